"""Everything LeadPact writes back to amoCRM: fields and tags, promos, funnel statistics, reports."""
