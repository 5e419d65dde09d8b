"""Preference data from the business's own feedback: pairs for DPO, rated answers for KTO."""

from etl.stages.preference.stage import PreferenceStage

__all__ = ["PreferenceStage"]
