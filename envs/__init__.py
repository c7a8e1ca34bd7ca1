"""The Gymnasium environment: tools as actions, a report graded exactly against the world's truth.

Only `shopgym/ProductResearch-v1` is registered: `gym.make` of the retired v0 raises Gymnasium's
`DeprecatedEnv`, naming v1. Records of v0 episodes still load (`shopgym.schema.TrajectoryRecord`).
"""

from gymnasium.envs.registration import register, registry

from .env import ENV_ID, ENV_VERSION, ActionError, ProductResearchEnv, parse_action
from .report import Claim, Recommendation, Report
from .sentiment import aspect_sentiment, sentiment
from .tools import TOOL_NAMES, tool_schemas
from .user import ScriptedUser, UserSimulator

if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="shopgym.envs.env:ProductResearchEnv", max_episode_steps=None)

__all__ = [
    "ENV_ID", "ENV_VERSION", "TOOL_NAMES", "ActionError", "Claim", "ProductResearchEnv", "Recommendation", "Report",
    "ScriptedUser", "UserSimulator", "aspect_sentiment", "parse_action", "sentiment", "tool_schemas",
]
