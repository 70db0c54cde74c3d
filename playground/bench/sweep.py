"""`--sweep KEY=v1,v2,...`: one benchmark row per value of a knob, for speed–quality curves.

Every `key=value,...` method is repeated once per value with `KEY=value` set (a
SpecConfig field such as `num_draft_tokens`, or an option knob such as `lenience`, which
`parse_method` routes to `SpecConfig.options`) and labelled `LABEL[KEY=value]`; `plain` and
the transformers baselines run once. Example, a lenience curve at temperature 1:

    python -m playground bench --target tiny:target --temperature 1 \\
        --method drafter=model,drafter_model=tiny:drafter,sampler=lenient,label=lenient \\
        --sweep lenience=1,2,4,8
"""

from __future__ import annotations

from playground.errors import ConfigError


def parse_sweep(text: str) -> tuple[str, list[str]]:
    key, sep, values = text.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or not items:
        raise ConfigError(f"--sweep takes KEY=v1,v2,..., got {text!r}")
    return key.strip(), items


def expand_sweep(methods: list[str], sweep: str) -> list[str]:
    """The method strings with each `key=value` method repeated once per swept value."""
    key, values = parse_sweep(sweep)
    out: list[str] = []
    for method in methods:
        if "=" not in method.split(":", 1)[0]:  # plain, hf, hf_prompt_lookup:k, ...
            out.append(method)
            continue
        fields = dict(item.split("=", 1) for item in method.split(","))
        label = fields.pop("label", None) or f"{fields.get('drafter')}/{fields.get('sampler')}"
        for value in values:
            swept = {**fields, key: value, "label": f"{label}[{key}={value}]"}
            out.append(",".join(f"{k}={v}" for k, v in swept.items()))
    return out
