"""ceasefire-monitor: the trilateral commission's incident tracker."""
