"""Every knob is defined once here; the UI sliders, CLI flags and benchmark read it.

A `Knob` holds a default and bounds. `GenerationConfig` (how the target's distribution
is processed and when to stop) and `SpecConfig` (which drafter, sampler and schedule)
validate themselves on construction and reject unknown fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from playground.errors import ConfigError


@dataclass(frozen=True)
class Knob:
    name: str
    default: Any
    low: float
    high: float
    help: str
    integer: bool = False
    # Whether `low` itself is allowed (top_p: (0, 1]).
    low_inclusive: bool = True

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{self.name} must be a number, got {value!r}")
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError(f"{self.name} must be a number, got NaN")
        if self.integer and int(value) != value:
            raise ConfigError(f"{self.name} must be a whole number, got {value!r}")
        below = value < self.low if self.low_inclusive else value <= self.low
        if below or value > self.high:
            lo = "[" if self.low_inclusive else "("
            raise ConfigError(
                f"{self.name} must be in {lo}{self.low}, {self.high}], got {value!r} ({self.help})"
            )
        return int(value) if self.integer else float(value)


MAX_NEW_TOKENS = Knob("max_new_tokens", 128, 1, 8192, "tokens to generate", integer=True)
TEMPERATURE = Knob("temperature", 0.0, 0.0, 5.0, "0 means greedy decoding")
TOP_K = Knob("top_k", 0, 0, 1_000_000, "keep the k most likely tokens; 0 keeps all", integer=True)
TOP_P = Knob("top_p", 1.0, 0.0, 1.0, "nucleus sampling mass; 1 keeps all", low_inclusive=False)
REPETITION_PENALTY = Knob(
    "repetition_penalty", 1.0, 0.5, 5.0, "CTRL-style penalty on seen tokens; 1 = off"
)
SEED = Knob("seed", 0, 0, 2**63 - 1, "seed of the explicit torch.Generator", integer=True)
NUM_DRAFT_TOKENS = Knob(
    "num_draft_tokens", 4, 1, 64, "draft tokens per round (the start value for adaptive schedules)",
    integer=True,
)
MAX_DRAFT_TOKENS = Knob(
    "max_draft_tokens", 16, 1, 64, "upper bound for adaptive schedules", integer=True
)
NGRAM_MAX = Knob("ngram_max", 3, 1, 16, "longest n-gram prompt lookup tries to match", integer=True)
NGRAM_MIN = Knob("ngram_min", 1, 1, 16, "shortest n-gram prompt lookup accepts", integer=True)

GENERATION_KNOBS = (MAX_NEW_TOKENS, TEMPERATURE, TOP_K, TOP_P, REPETITION_PENALTY, SEED)
KNOBS: dict[str, Knob] = {
    k.name: k for k in (*GENERATION_KNOBS, NUM_DRAFT_TOKENS, MAX_DRAFT_TOKENS, NGRAM_MAX, NGRAM_MIN)
}

# Drafter and sampler options (`SpecConfig.options`): each registry entry reads and
# validates its own with `read_option`.
KEEP_TOKENS = Knob(
    "keep_tokens", 0, 0, 10_000_000, "LM-head rows the pruned drafter keeps; 0 = use keep_fraction",
    integer=True,
)
KEEP_FRACTION = Knob(
    "keep_fraction", 0.125, 0.0, 1.0, "share of the target vocabulary the pruned drafter keeps",
    low_inclusive=False,
)
PRUNED_LAYERS = Knob(
    "layers", 0, 0, 1024, "decoder layers the pruned drafter runs; 0 = all of them", integer=True
)
RDK_MIX = Knob(
    "rdk_mix", 0.25, 0.0, 1.0,
    "share of each drafted token's mass RDK moves to out-of-vocabulary tokens; 0 = TLI",
)
RDK_SHARPNESS = Knob(
    "rdk_sharpness", 40.0, 0.0, 1000.0, "inverse temperature of RDK's embedding-cosine affinity"
)
RDK_TOP = Knob(
    "rdk_top", 8, 1, 4096, "drafter tokens the exact RDK kernel redistributes (cost ∝ top)",
    integer=True,
)
SLRS_DEPTH = Knob(
    "slrs_depth", 4, 1, 16, "most drafter tokens one target token may span in SLRS", integer=True
)
SLRS_WIDTH = Knob(
    "slrs_width", 4, 1, 64, "drafter tokens SLRS expands per trie level", integer=True
)
TEXT_STEPS = Knob(
    "text_steps_per_token", 4, 1, 32,
    "drafter tokens a text-level draft (SLEM) may spend per target token", integer=True,
)

OPTION_KNOBS: dict[str, Knob] = {
    k.name: k
    for k in (
        KEEP_TOKENS, KEEP_FRACTION, PRUNED_LAYERS, RDK_MIX, RDK_SHARPNESS, RDK_TOP,
        SLRS_DEPTH, SLRS_WIDTH, TEXT_STEPS,
    )
}


# Cheap drafters and dynamic draft length: layer_skip, token_recycling, lookup_tree, confidence,
# disco, auto.
SEARCH_WINDOW = Knob(
    "search_window", 64, 8, 4096,
    "context tokens the layer_skip search scores each candidate layer set on", integer=True,
)
SEARCH_ROWS = Knob(
    "search_rows", 16, 1, 512,
    "positions of that window whose predictions the search compares (one head row each)",
    integer=True,
)
RECYCLE_TOP = Knob(
    "recycle_top", 8, 1, 64,
    "next-token candidates token recycling keeps per token id (memory: vocab × this ids)",
    integer=True,
)
CONFIDENCE_THRESHOLD = Knob(
    "confidence_threshold", 0.5, 0.0, 1.0,
    "the confidence schedule stops a draft once the drafter's probability of its token is lower",
)
DISCO_THRESHOLD = Knob(
    "disco_threshold", 0.5, 0.0, 1.0,
    "DISCO stops a draft once its predicted acceptance of the last drafted token is lower",
)
LOOKUP_MATCHES = Knob(
    "lookup_matches", 4, 1, 64,
    "earlier occurrences of the matched n-gram whose continuations lookup_tree branches into",
    integer=True,
)
TREE_TRIM = Knob(
    "tree_trim", 1, 0, 1,
    "1: lookup_tree drafts only the nodes that pay under its measured verify cost (up to "
    "tree_budget); 0: always tree_budget nodes (for comparisons at equal target cost)",
    integer=True,
)
AUTO_PROBE_ROUNDS = Knob(
    "auto_probe_rounds", 2, 1, 64, "rounds auto measures each candidate for before choosing",
    integer=True,
)
AUTO_REPROBE = Knob(
    "auto_reprobe", 16, 0, 100_000,
    "every this many rounds auto measures one other candidate again; 0 = never", integer=True,
)
OPTION_KNOBS.update(
    {
        k.name: k
        for k in (
            SEARCH_WINDOW, SEARCH_ROWS, RECYCLE_TOP, LOOKUP_MATCHES, TREE_TRIM,
            CONFIDENCE_THRESHOLD, DISCO_THRESHOLD, AUTO_PROBE_ROUNDS, AUTO_REPROBE,
        )
    }
)


# Token trees: the `tree` option of tree drafters ("static:3,2,1", "dynamic:16", ...; syntax
# in playground/drafters/tree_spec.py) and the bounds every tree spec is checked against.
DEFAULT_TREE = "dynamic"
TREE_BUDGET = Knob(
    "tree_budget", 16, 1, 256,
    "most draft-tree nodes per round (one target forward verifies them all)", integer=True,
)
TREE_DEPTH = Knob(
    "tree_depth", 6, 1, 32,
    "deepest draft-tree level; the round's draft length (schedule) caps it too", integer=True,
)
TREE_WIDTH = Knob(
    "tree_width", 4, 1, 64,
    "children per expanded tree node (topk, beam, chains, dynamic); the widest a shape may ask",
    integer=True,
)
OPTION_KNOBS.update({k.name: k for k in (TREE_BUDGET, TREE_DEPTH, TREE_WIDTH)})


# Options whose values are text, read by their registry entry (not bounded knobs).
TEXT_OPTIONS = {
    "auto_drafters": "sources `auto` measures, joined with + (e.g. prompt_lookup+layer_skip)",
    "calibration_text": "text the pruned drafter counts token frequencies on",
    "tree": "how tree drafters grow their tree, e.g. static:3-2-1 or dynamic:8 "
    "(drafters.tree_spec)",
}


def read_option(options: dict[str, Any], knob: Knob) -> Any:
    """`options[knob.name]` checked against the knob's bounds, or the knob's default."""
    return knob.check(options.get(knob.name, knob.default))


DEFAULT_TARGET = "bundled:gemma-3-270m"
DEFAULT_DRAFTER_MODEL = "bundled:smollm2-135m-instruct"
# The UI's default drafter: calibrates on the run and falls back to plain decoding.
DEFAULT_DRAFTER = "auto"
# ... verified by SpecInfer's rule, which takes chains and trees (auto's lookup tree) at any
# temperature and is greedy verification at temperature 0.
DEFAULT_SAMPLER = "specinfer"


def _from_dict(cls: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        known = ", ".join(sorted(names))
        raise ConfigError(f"unknown {cls.__name__} field(s) {', '.join(unknown)}; known: {known}")
    return cls(**values)


@dataclass(frozen=True)
class GenerationConfig:
    """How the target distribution is processed, and when generation stops.

    Lossless samplers preserve the *processed* target distribution: temperature, top-k,
    top-p and repetition penalty are applied identically wherever distributions meet.
    """

    max_new_tokens: int = MAX_NEW_TOKENS.default
    temperature: float = TEMPERATURE.default
    top_k: int = TOP_K.default
    top_p: float = TOP_P.default
    repetition_penalty: float = REPETITION_PENALTY.default
    seed: int = SEED.default
    stop_strings: tuple[str, ...] = ()
    stop_at_eos: bool = True

    def __post_init__(self) -> None:
        for knob in GENERATION_KNOBS:
            object.__setattr__(self, knob.name, knob.check(getattr(self, knob.name)))
        stops = self.stop_strings
        if isinstance(stops, str):
            stops = (stops,)
        if any(not isinstance(s, str) or not s for s in stops):
            raise ConfigError("stop_strings must be non-empty strings")
        object.__setattr__(self, "stop_strings", tuple(stops))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GenerationConfig:
        return _from_dict(cls, values)

    @classmethod
    def from_knobs(cls, source: object, **fields: Any) -> GenerationConfig:
        """The `GENERATION_KNOBS` read by name from `source` (the CLI's parsed flags, the
        app's inputs), plus `fields` (stop_strings, stop_at_eos); validated as always."""
        return cls(**{k.name: getattr(source, k.name) for k in GENERATION_KNOBS}, **fields)


@dataclass(frozen=True)
class SpecConfig:
    """Which drafter proposes, which sampler verifies, which schedule sets the length.

    `drafter=None` is plain autoregressive decoding through the same engine.
    `options` carries drafter- or sampler-specific settings (e.g. a tree spec); each
    registry entry validates its own.
    """

    drafter: str | None = None
    drafter_model: str | None = None
    sampler: str = "speculative"
    schedule: str = "heuristic"
    num_draft_tokens: int = NUM_DRAFT_TOKENS.default
    max_draft_tokens: int = MAX_DRAFT_TOKENS.default
    ngram_max: int = NGRAM_MAX.default
    ngram_min: int = NGRAM_MIN.default
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for knob in (NUM_DRAFT_TOKENS, MAX_DRAFT_TOKENS, NGRAM_MAX, NGRAM_MIN):
            object.__setattr__(self, knob.name, knob.check(getattr(self, knob.name)))
        if self.num_draft_tokens > self.max_draft_tokens:
            raise ConfigError(
                f"num_draft_tokens ({self.num_draft_tokens}) exceeds max_draft_tokens "
                f"({self.max_draft_tokens}); raise max_draft_tokens or lower num_draft_tokens"
            )
        if self.ngram_min > self.ngram_max:
            raise ConfigError(f"ngram_min ({self.ngram_min}) exceeds ngram_max ({self.ngram_max})")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SpecConfig:
        return _from_dict(cls, values)


# ---- UI-only knobs (the app's sliders; not GenerationConfig/SpecConfig fields) ----------

STEP_DELAY = Knob(
    "step_delay", 0.0, 0.0, 2.0,
    "seconds the app waits after each round so a run can be watched; timings exclude it",
)
THEORY_ALPHA = Knob("alpha", 0.8, 0.0, 1.0, "acceptance rate α of each draft token (theory view)")
THEORY_COST_RATIO = Knob(
    "cost_ratio", 0.1, 0.0, 1.0,
    "c = drafter time per draft token / one target forward (theory view)",
)
MODEL_CACHE_GB = Knob(
    "model_cache_gb", 8.0, 0.25, 4096.0,
    "memory budget of the app's model cache in GB (env SPECLAB_MODEL_CACHE_GB)",
)
UI_KNOBS: dict[str, Knob] = {
    k.name: k for k in (STEP_DELAY, THEORY_ALPHA, THEORY_COST_RATIO, MODEL_CACHE_GB)
}

# The parallel-schemes view (playground.simulate): SD, DSI and PEARL on simulated devices.
SIM_SERVERS = Knob(
    "servers", 4, 1, 8, "target servers DSI runs on (SD and PEARL use one)", integer=True
)
SIM_DRAFT_MS = Knob(
    "draft_ms", 5.0, 0.0, 10_000.0, "drafter latency per drafted token (ms)", low_inclusive=False
)
SIM_TARGET_MS = Knob(
    "target_ms", 25.0, 0.0, 100_000.0, "one target forward over one token (ms)", low_inclusive=False
)
SIM_VERIFY_GROWTH = Knob(
    "verify_growth",
    0.0,
    0.0,
    10.0,
    "extra cost of each further token in one target forward, as a share of a one-token "
    "forward (0 = flat, as on a GPU; near 1 on a CPU)",
)
SIM_ALPHA = Knob(
    "sim_alpha",
    THEORY_ALPHA.default,
    0.0,
    1.0,
    "i.i.d. acceptance α of each checked draft token (parallel-schemes view)",
)
UI_KNOBS.update(
    {k.name: k for k in (SIM_SERVERS, SIM_DRAFT_MS, SIM_TARGET_MS, SIM_VERIFY_GROWTH, SIM_ALPHA)}
)


# ---- Lossy verification (typical, cascade, bild, lenient) --------------------------------


@dataclass(frozen=True)
class ChoiceKnob(Knob):
    """A knob whose value is one name out of `choices` (low/high index them, for listings)."""

    choices: tuple[str, ...] = ()

    def check(self, value: Any) -> Any:
        name = str(value).strip().lower() if isinstance(value, str) else None
        if name not in self.choices:
            raise ConfigError(
                f"{self.name} must be one of {', '.join(self.choices)}, got {value!r} ({self.help})"
            )
        return name


DRAFTER_QUANT = ChoiceKnob(
    "drafter_quant", "none", 0, 1,
    "drafter models only (never the target): int8 runs a private copy with int8 linear "
    "layers (faster drafts, same lossless output)",
    choices=("none", "int8"),
)
OPTION_KNOBS[DRAFTER_QUANT.name] = DRAFTER_QUANT


TYPICAL_EPSILON = Knob(
    "typical_epsilon", 0.09, 0.0, 1.0,
    "typical acceptance: hard threshold ε of p(x) > min(ε, δ·exp(-H(p))); Medusa's default",
)
TYPICAL_DELTA = Knob(
    "typical_delta", 0.3, 0.0, 1.0,
    "typical acceptance: entropy-scaled threshold δ of p(x) > min(ε, δ·exp(-H(p)))",
)
LENIENCE = Knob(
    "lenience", 2.0, 1.0, 1000.0,
    "lenient: accept x with prob. min(1, λ·p(x)/q(x)); λ = 1 is exact speculative sampling",
)
CASCADE_RULE = ChoiceKnob(
    "cascade_rule", "opt", 0, 2,
    "speculative cascade deferral rule: chow | diff | opt", choices=("chow", "diff", "opt"),
)
CASCADE_ALPHA = Knob(
    "cascade_alpha", 0.1, 0.0, 1.0,
    "cascade deferral cost α: chow defers if max q < 1-α, diff if max q < max p - α, "
    "opt if max q < max p - α·TV(p, q); 0 = defer whenever the drafter is less sure",
)
BILD_FALLBACK = Knob(
    "bild_fallback", 0.5, 0.0, 1.0,
    "BiLD fallback: the target takes over at the first drafted token whose drafter top "
    "probability is below this",
)
BILD_ROLLBACK = Knob(
    "bild_rollback", 3.0, 0.0, 100.0,
    "BiLD rollback: reject a drafted token x when the target's cross-entropy -log p(x) "
    "exceeds this (nats)",
)
OPTION_KNOBS.update(
    {
        k.name: k
        for k in (
            TYPICAL_EPSILON, TYPICAL_DELTA, LENIENCE, CASCADE_RULE, CASCADE_ALPHA,
            BILD_FALLBACK, BILD_ROLLBACK,
        )
    }
)
