"""Reading amoCRM's list parameters from a query string."""

from __future__ import annotations

import pytest

from amocrm_sandbox.problems import Problem
from amocrm_sandbox.query import ListParams, in_range, parse_list_params


def parse(*items: tuple[str, str]) -> ListParams:
    return parse_list_params(items, page_limit_max=250)


class TestParse:
    def test_defaults(self) -> None:
        """Without parameters a list starts at page 1 with 50 items."""
        params = parse()
        assert (params.page, params.limit, params.offset()) == (1, 50, 0)

    def test_id_filters_in_every_php_form(self) -> None:
        """`filter[id]`, `filter[id][]`, `filter[id][0]` and comma lists all name ids."""
        params = parse(("filter[id][]", "1"), ("filter[id][1]", "2"), ("filter[id]", "3,4"))
        assert params.ints("id") == {1, 2, 3, 4}

    def test_ranges_statuses_order_and_with(self) -> None:
        """Date ranges, status pairs, ordering and `with` are read into their own fields."""
        params = parse(
            ("filter[updated_at][from]", "100"),
            ("filter[updated_at][to]", "200"),
            ("filter[statuses][0][pipeline_id]", "5"),
            ("filter[statuses][0][status_id]", "142"),
            ("filter[statuses][1][pipeline_id]", "6"),
            ("order[updated_at]", "desc"),
            ("with", "contacts,catalog_elements"),
            ("page", "3"),
            ("limit", "10"),
        )
        assert params.ranges["updated_at"] == (100, 200)
        assert params.statuses == ((5, 142), (6, None))
        assert params.order == ("updated_at", True)
        assert params.with_ == {"contacts", "catalog_elements"}
        assert params.offset() == 20

    def test_a_single_time_filter_is_an_exact_range(self) -> None:
        """`filter[updated_at]=T` without from/to means updated exactly at T."""
        assert parse(("filter[updated_at]", "150")).ranges["updated_at"] == (150, 150)

    @pytest.mark.parametrize(
        "items", [(("limit", "251"),), (("limit", "0"),), (("page", "0"),), (("page", "x"),)]
    )
    def test_out_of_range_paging_is_a_400(self, items: tuple[tuple[str, str], ...]) -> None:
        """A page size over 250, below 1, or a bad page number is refused."""
        with pytest.raises(Problem) as caught:
            parse(*items)
        assert caught.value.status == 400


class TestInRange:
    def test_bounds_are_inclusive_and_missing_values_fail(self) -> None:
        """A value on either bound is in range; a missing value is not."""
        assert in_range(100, (100, 200))
        assert in_range(200, (None, 200))
        assert not in_range(201, (100, 200))
        assert not in_range(None, (100, None))
        assert in_range(None, None)
