"""The simulated venue `sim`: an in-process exchange with a synthetic market around the bot.

- `engine.MatchingEngine`: pure price-time-priority matching, accounts, locks, fees, trade tape.
- `scenarios`: the `Scenario` model and the built-in scenarios (`scenarios/*.yaml`).
- `market.SyntheticMarket`: fair-price process, liquidity providers and takers as async tasks.
- `venue.SimVenue`: the `Venue` interface with latency, throttled book stream and fault hooks.

Seeded and reproducible: a scenario plus a seed gives the same market on a virtual clock.
"""

from agent.venues.sim.engine import MatchingEngine
from agent.venues.sim.scenarios import Scenario, ScenarioError, builtin_scenarios, load_scenario
from agent.venues.sim.venue import SimFaults, SimVenue

__all__ = [
    "MatchingEngine",
    "Scenario",
    "ScenarioError",
    "SimFaults",
    "SimVenue",
    "builtin_scenarios",
    "load_scenario",
]
