"""The weekly marketing+sales meeting report: a pure model over the stats figures (`model`), inline SVG charts
(`charts`), Markdown and HTML rendering (`render`), assembly from storage (`figures`) and posting to amoCRM
(`post`)."""
