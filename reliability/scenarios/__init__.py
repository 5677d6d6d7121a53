"""One module per scenario; each has ``NAME`` and ``async def run(context) -> ScenarioResult``."""
