"""The registry of PEFT methods, modelled on Hugging Face peft's tuners.

A method is one module of this package that declares, in a
:class:`Method` subclass registered under its YAML name:

* its settings: a dataclass with defaults, validated when built
  (``config_class``);
* how it goes into a transformers speech encoder (:meth:`Method.inject`,
  or :meth:`Method.combiner` for a method that combines the layers'
  outputs instead);
* which tensors it trains (:meth:`Method.owns`);
* how it merges into the base weights and back, where it can
  (:meth:`Method.merge`, :meth:`Method.unmerge`, and :meth:`Method.unload`
  for an export with the base model's parameter names);
* which settings a stage two must share with its stage one
  (``stage_two_fields``).

Everything else (the lobe's run configuration and summary, the stage-two
checks and the per-adaptor table, the merged export, the generic tests)
is derived from here; nothing outside this package names a method.

Authors
 * speechbrain-peft-ser developers 2026
"""

import dataclasses

from speechbrain_peft.utils.errors import ConfigError, ConfigTypeError

METHODS = {}


def register(method):
    """Register a :class:`Method` instance under its ``name``."""
    if method.name in METHODS:
        raise ValueError(f"PEFT method {method.name!r} is registered twice")
    METHODS[method.name] = method
    return method


class Method:
    """What a PEFT method declares; subclass it and :func:`register` one
    instance.

    Attributes
    ----------
    name : str
        The method's name in the YAML's ``adapters`` mapping.
    config_class : type
        A dataclass of the settings, with defaults; its ``__post_init__``
        raises ``ValueError`` for a bad value.
    stage_two_fields : tuple of str or None
        The settings a stage two must share with the stage one it loads
        (None: all of them).
    legacy_fields : dict
        ``{flat name: setting}`` of run files written before the registry
        (``lora_rank`` -> ``rank``), so those runs still load.
    combines_layers : bool
        The method combines the stack of layer outputs (it provides
        :meth:`combiner`) instead of going into the layers.
    mergeable : bool
        :meth:`merge` folds it into the base weights.
    """

    name = None
    config_class = None
    stage_two_fields = None
    legacy_fields = {}
    combines_layers = False
    mergeable = False

    def settings(self, values=None):
        """The method's settings from a YAML mapping (defaults filled in),
        refusing names the method does not have.

        Arguments
        ---------
        values : dict, optional
            Settings given in the YAML or on the command line.

        Returns
        -------
        dataclass instance
        """
        values = dict(values or {})
        fields = {field.name for field in dataclasses.fields(self.config_class)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ConfigError(
                f"Unknown setting(s) {unknown} for adaptor {self.name!r}; it "
                f"has {sorted(fields)}"
            )
        try:
            return self.config_class(**values)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"adapters.{self.name}: {error}") from error

    def describe(self, config):
        """The settings as JSON types (what run files store; a mapping
        :meth:`settings` accepts back)."""
        return json_values(dataclasses.asdict(config))

    def legacy_settings(self, flat):
        """This method's settings in the flat lobe arguments of a run
        written before the registry, or None when that run did not use it.
        """
        if self.name not in (flat.get("adapters") or ()):
            return None
        return {
            field: flat[old]
            for old, field in self.legacy_fields.items()
            if old in flat
        }

    def example(self):
        """Settings that work on every supported encoder, for the generic
        tests and the docs (the defaults, unless the method has none)."""
        return self.config_class()

    def inject(self, model, config, layers=None):
        """Put the method into a transformers encoder, in place.

        Arguments
        ---------
        model : transformers.PreTrainedModel
            A WavLM, HuBERT or wav2vec 2.0 model; its base parameters are
            frozen already.
        config : dataclass instance
            From :meth:`settings`.
        layers : list of int, optional
            The encoder layers to adapt (all when None).
        """

    def combiner(self, config, num_states):
        """The module combining ``num_states`` stacked layer outputs
        ``[states, batch, frames, dim]`` into ``[batch, frames, dim]``
        (methods with ``combines_layers`` only)."""
        raise NotImplementedError(f"{self.name} does not combine layers")

    def owns(self, parameter_name):
        """Whether a parameter of the lobe belongs to this method."""
        raise NotImplementedError

    def merge(self, model):
        """Fold the method into the base weights, keeping its modules
        (``mergeable`` only); returns how many modules were merged."""
        raise NotImplementedError(f"{self.name} cannot be merged")

    def unmerge(self, model):
        """Undo :meth:`merge`."""
        raise NotImplementedError(f"{self.name} cannot be merged")

    def unload(self, model):
        """After :meth:`merge`, put the plain base modules back (an export
        whose parameter names are the base model's)."""
        raise NotImplementedError(f"{self.name} cannot be merged")


def method(name):
    """The registered method called ``name``, or an error listing them."""
    if name not in METHODS:
        raise ConfigError(
            f"Unknown adaptor {name!r} in `adapters`; choose any of "
            f"{sorted(METHODS)}"
        )
    return METHODS[name]


def adaptor_settings(adapters):
    """``{name: settings}`` of every adaptor of a YAML ``adapters`` entry,
    in its order (the order they are injected in).

    Arguments
    ---------
    adapters : dict or list or None
        ``{name: {setting: value}}``; a list of names (or of ``{name:
        settings}`` items) takes the defaults of what it does not set.

    Returns
    -------
    dict
    """
    if isinstance(adapters, str):
        raise ConfigTypeError(
            f"`adapters` must be a list, e.g. [{adapters}], or a mapping of "
            f"each adaptor's settings, e.g. {{{adapters}: {{}}}}, not "
            f"{adapters!r}"
        )
    if adapters is None:
        adapters = {}
    if not isinstance(adapters, dict):
        adapters = {_item_name(item): _item_settings(item) for item in adapters}
    return {
        name: method(name).settings(settings)
        for name, settings in adapters.items()
    }


def as_dict(settings):
    """JSON-friendly ``{name: {setting: value}}`` of
    :func:`adaptor_settings`."""
    return {
        name: METHODS[name].describe(config)
        for name, config in settings.items()
    }


def json_values(value):
    """Tuples as lists, recursively (what a JSON round trip gives)."""
    if isinstance(value, dict):
        return {key: json_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_values(item) for item in value]
    return value


def owner_of(parameter_name):
    """The registered method a lobe parameter belongs to, or None (the
    encoder's own weights)."""
    for name, registered in METHODS.items():
        if registered.owns(parameter_name):
            return name
    return None


def upgrade_flat_settings(kwargs):
    """The lobe arguments (or summary) of a run written before the registry
    (``adapters`` a list and flat ``lora_rank``, ``bottleneck_size``,
    ``peft_config``...) in today's form; today's are returned unchanged.

    Example
    -------
    >>> upgrade_flat_settings({"source": "m", "adapters": ["lora"],
    ...     "lora_rank": 4, "bottleneck_size": 64, "peft_config": None}
    ... )["adapters"]["lora"]["rank"]
    4
    """
    if isinstance(kwargs.get("adapters"), dict):
        return kwargs
    listed = list(kwargs.get("adapters") or [])
    used = {}
    for name in listed + [name for name in METHODS if name not in listed]:
        settings = METHODS[name].legacy_settings(kwargs)
        if settings is not None:
            used[name] = settings
    stale = {"adapters"}
    for registered in METHODS.values():
        stale.update(registered.legacy_fields)
    kept = {key: value for key, value in kwargs.items() if key not in stale}
    return {**kept, "adapters": as_dict(adaptor_settings(used))}


def nest_flat_overrides(overrides, used):
    """Command-line overrides with ``--<method>_<setting>`` (``--lora_rank
    16``) moved into ``adapters``.

    Without ``--adapters``, or with a mapping there, the settings go into
    a mapping that hyperpyyaml merges into the YAML's (``{"adapters":
    {"lora": {"rank": 16}}}``). A list given to ``--adapters`` replaces the
    YAML's adaptors (each with its default settings), so the settings join
    the list's items (``[{"lora": {"rank": 16}}, "gating"]``).

    Arguments
    ---------
    overrides : dict
        The overrides SpeechBrain parsed from the command line.
    used : list of str
        The adaptors of the YAML being overridden. A flat setting of a
        method that neither it nor ``--adapters`` uses is refused rather
        than silently adding that method.

    Returns
    -------
    dict

    Example
    -------
    >>> nest_flat_overrides({"lora_rank": 16, "lr": 0.1}, ["lora"])
    {'lr': 0.1, 'adapters': {'lora': {'rank': 16}}}
    >>> nest_flat_overrides({"adapters": ["lora", "gating"], "lora_rank": 4},
    ...                     ["bottleneck"])["adapters"]
    [{'lora': {'rank': 4}}, 'gating']
    >>> nest_flat_overrides({"gating_init": "paper"}, ["lora"])
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: --gating_init sets an adaptor ...
    """
    nested = dict(overrides)
    used = [_item_name(item) for item in used]
    flat = {}
    for key in list(nested):
        found = _flat_setting(key)
        if found is not None:
            name, field = found
            flat.setdefault(name, {})[field] = nested.pop(key)
    if not flat:
        return nested
    given = nested.get("adapters")
    if isinstance(given, list):
        used = [_item_name(item) for item in given]
    elif isinstance(given, dict):
        used = [*used, *given]
    for name in flat:
        if name not in used:
            raise ConfigError(
                f"--{name}_{next(iter(flat[name]))} sets an adaptor this "
                f"configuration does not use ({name}; it uses {list(used)}); "
                f"add {name} to `adapters`"
            )
    if isinstance(given, list):
        nested["adapters"] = [
            {_item_name(item): {**_item_settings(item), **flat[name]}}
            if (name := _item_name(item)) in flat
            else item
            for item in given
        ]
    else:
        merged = dict(given or {})
        for name, settings in flat.items():
            merged[name] = {**(merged.get(name) or {}), **settings}
        nested["adapters"] = merged
    return nested


def _item_name(item):
    """The method of an ``adapters`` list item (a name or ``{name: ...}``)."""
    return next(iter(item)) if isinstance(item, dict) else item


def _item_settings(item):
    """The settings of an ``adapters`` list item."""
    return (
        dict(next(iter(item.values())) or {}) if isinstance(item, dict) else {}
    )


def _flat_setting(key):
    """``(method, setting)`` of a flat name such as ``lora_rank``, or None."""
    for name, registered in METHODS.items():
        fields = {f.name for f in dataclasses.fields(registered.config_class)}
        field = key.removeprefix(f"{name}_")
        if field != key and field in fields:
            return name, field
    return None
