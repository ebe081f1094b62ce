"""The balanced scorecard: the council's measures in four perspectives, their formulas, forecasts and charts."""
