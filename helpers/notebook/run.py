"""A notebook's start and its saves: the settings cell applied, the process set up, every artifact labelled.

:func:`notebook_setup` prints the checkout's settings, applies a notebook's own (``helpers.core.config.apply_settings``) and
process settings (``helpers.core.runtime.apply``); the :class:`NotebookRun` it returns saves
artifacts (``helpers.store.artifacts``) with the notebook's name and settings attached.
"""
from __future__ import annotations

from dataclasses import dataclass

from helpers.core import config, runtime
from helpers.store import artifacts


@dataclass(frozen=True)
class NotebookRun:
    """A notebook's chosen settings; saves artifacts with its name and those settings attached."""

    producer: str
    settings: dict  # what every artifact of the notebook records: profile (and weights when it uses them)

    def _config(self, extra) -> dict:
        return {**self.settings, **dict(extra or {})}

    def save_arrays(self, name, config=None, **arrays):
        """helpers.store.artifacts.save_arrays with this notebook as producer and its settings (plus ``config``)."""
        return artifacts.save_arrays(name, self.producer, self._config(config), **arrays)

    def save_json(self, name, obj, config=None):
        """helpers.store.artifacts.save_json with this notebook as producer and its settings (plus ``config``)."""
        return artifacts.save_json(name, obj, self.producer, self._config(config))

    def save_model(self, name, model, config=None):
        """helpers.store.artifacts.save_model with this notebook as producer and its settings (plus ``config``)."""
        return artifacts.save_model(name, model, self.producer, self._config(config))

    def save_params(self, name, params, config=None):
        """helpers.store.artifacts.save_params with this notebook as producer and its settings (plus ``config``)."""
        return artifacts.save_params(name, params, self.producer, self._config(config))

    def save_run(self, name, model, history, config, model_file=None):
        """Save a training run with the settings that made it: the model (``{name}_model_params.pkl``, or
        ``model_file``) and its history (``{name}_history.json``), both recording ``{"model": name, **config}``."""
        config = {"model": name, **config}
        self.save_model(model_file or f"{name}_model_params.pkl", model, config)
        return self.save_json(f"{name}_history.json", history.to_dict(), config)

    def save_results(self, results) -> None:
        """helpers.store.artifacts.save_results with this notebook as producer: its headline figures for ``make run``.

        Returns nothing (a notebook's last cell shows no stray value) and prints where they went."""
        print(f"headline results saved: {artifacts.save_results(self.producer, results)}")


def notebook_setup(producer: str, threads: bool = False, deterministic: bool = False, memory: bool = False,
                   uses_weights: bool = False, **settings) -> NotebookRun:
    """Start a notebook: print the checkout's profile (and weights, when it ``uses_weights``) and apply its own settings.

    The profile and weights come from settings.toml or their environment variables
    (``helpers.core.config``); ``settings`` are the notebook's own settings cell (``submission=SUBMISSION``).
    ``threads``, ``deterministic``, ``memory``: the process settings of ``helpers.core.runtime.apply`` (BLAS and
    torch threads, torch runs that repeat bit for bit, malloc keeping freed memory), printed too.
    Returns the run, whose ``save_*`` attach ``producer`` and the settings.
    """
    checkout = {"profile": None} | ({"weights": None} if uses_weights else {})
    config.apply_settings(**checkout, **settings)
    applied = runtime.apply(threads=threads, deterministic=deterministic, memory=memory)
    if applied:
        print(f"==== {', '.join(applied)} ====", flush=True)
    recorded = {"profile": config.profile().name} | ({"weights": config.feature_weights()} if uses_weights else {})
    return NotebookRun(producer, recorded)
