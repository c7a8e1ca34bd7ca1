"""The Gymnasium environment: tools as actions, a report graded exactly against the world's truth."""

from gymnasium.envs.registration import register, registry

from .env import ENV_ID, ENV_VERSION, ActionError, ProductResearchEnv, parse_action
from .report import Claim, Recommendation, Report
from .tools import TOOL_NAMES, tool_schemas
from .user import ScriptedUser, UserSimulator

if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="shopgym.envs.env:ProductResearchEnv", max_episode_steps=None)

__all__ = [
    "ENV_ID", "ENV_VERSION", "TOOL_NAMES", "ActionError", "Claim", "ProductResearchEnv", "Recommendation", "Report",
    "ScriptedUser", "UserSimulator", "parse_action", "tool_schemas",
]
