"""Shared helpers of the benchmark scripts: the base-size random-init
encoder, machine description, timing statistics and the results file.

Not a test module and not part of the package: the scripts in this folder
import it by path (``python benchmarks/train_step.py`` puts the folder on
``sys.path``).

Authors
 * speechbrain-peft-ser developers 2026
"""

import datetime
import os
import platform
import re
import statistics
from pathlib import Path

import torch

from speechbrain_peft.synthetic.encoders import KINDS, TINY, save_tiny_encoder

SAMPLE_RATE = 16000


def base_config_fields(kind):
    """Config fields that give the transformers default (base) geometry.

    ``save_tiny_encoder`` starts from the project's tiny overrides
    (:data:`~speechbrain_peft.synthetic.encoders.TINY`); every one of them
    is reset here to the value of the family's default config, i.e. 768 x
    12 layers, 3072-wide feed-forward, 12 heads, 512-channel CNN with group
    norm, 128-tap / 16-group positional convolution (the ``*-base``
    checkpoints' geometry).

    Arguments
    ---------
    kind : str
        ``wavlm``, ``hubert`` or ``wav2vec2``.

    Returns
    -------
    dict
        Keyword arguments for :func:`save_tiny_encoder`.
    """
    default = KINDS[kind][0]()
    fields = {name: getattr(default, name) for name in TINY}
    fields.update(
        hidden_size=default.hidden_size,
        num_layers=default.num_hidden_layers,
        intermediate_size=default.intermediate_size,
    )
    return fields


def save_base_encoder(kind, out_dir, seed=0):
    """Save a random-init base-size encoder (no download) and check that its
    geometry equals transformers' default config of that family.

    Arguments
    ---------
    kind : str
        ``wavlm``, ``hubert`` or ``wav2vec2``.
    out_dir : str or pathlib.Path
        Folder to write (reused when it already holds a model).
    seed : int
        Seed of the random init.

    Returns
    -------
    pathlib.Path
        The model folder, usable as ``PEFTEncoder(source=...)``.
    """
    path = save_tiny_encoder(
        kind, out_dir, seed=seed, **base_config_fields(kind)
    )
    config_class = KINDS[kind][0]
    saved = config_class.from_pretrained(path).to_dict()
    default = config_class().to_dict()
    geometry = [
        "hidden_size",
        "num_hidden_layers",
        "intermediate_size",
        "num_attention_heads",
        "conv_dim",
        "conv_kernel",
        "conv_stride",
        "num_conv_pos_embeddings",
        "num_conv_pos_embedding_groups",
        "feat_extract_norm",
        "do_stable_layer_norm",
    ]
    wrong = {
        key: (saved[key], default[key])
        for key in geometry
        if list_if_seq(saved[key]) != list_if_seq(default[key])
    }
    if wrong:
        raise RuntimeError(f"Not the base geometry (saved, default): {wrong}")
    return Path(path)


def list_if_seq(value):
    """Tuples and lists compare equal after a JSON round trip."""
    return list(value) if isinstance(value, list | tuple) else value


def machine_info():
    """A short description of the machine and software versions.

    Returns
    -------
    dict
    """
    cpu = platform.processor() or "unknown"
    try:
        text = Path("/proc/cpuinfo").read_text()
        match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        if match:
            cpu = match.group(1).strip()
    except OSError:
        pass
    import transformers

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "load_average": load_average(),
    }


def load_average():
    """The 1, 5 and 15 minute load averages as text ("n/a" if unknown)."""
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def machine_lines(info, load_after=None):
    """Markdown bullet lines describing the machine.

    Arguments
    ---------
    info : dict
        From :func:`machine_info` (taken at the start of the run).
    load_after : str, optional
        Load average at the end of the run.

    Returns
    -------
    list of str
    """
    load = info["load_average"]
    if load_after:
        load = f"{load} at start, {load_after} at end"
    return [
        f"- Date: {info['date']}",
        f"- CPU: {info['cpu']}, {info['cores']} cores, "
        f"torch threads {info['torch_threads']}",
        f"- Software: torch {info['torch']}, transformers "
        f"{info['transformers']}, Python {info['python']}",
        f"- Load average (1/5/15 min): {load}",
    ]


def median(values):
    """Median of a non-empty sequence."""
    return statistics.median(values)


def spread(values):
    """Inter-quartile range relative to the median, in percent."""
    if len(values) < 4:
        return float("nan")
    q1, _, q3 = statistics.quantiles(values, n=4)
    return 100.0 * (q3 - q1) / statistics.median(values)


def ratio_cell(values, digits=2):
    """``median [min-max]`` of values measured in repeated runs."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    low, mid, high = min(values), median(values), max(values)
    return f"{mid:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"


def markdown_table(header, rows):
    """Render a markdown table.

    Arguments
    ---------
    header : list of str
        Column titles.
    rows : list of list
        Cells (converted with ``str``).

    Returns
    -------
    str

    Example
    -------
    >>> print(markdown_table(["a", "b"], [[1, 2]]))
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(path, name, text):
    """Replace (or append) the section ``name`` of a markdown results file.

    The section is delimited by ``<!-- BEGIN name -->`` and
    ``<!-- END name -->`` comments, so each script rewrites only its own
    measurements and hand-written text elsewhere in the file is kept.

    Arguments
    ---------
    path : str or pathlib.Path
        The results file (created when missing).
    name : str
        Section name.
    text : str
        Section body (markdown).
    """
    path = Path(path)
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if path.exists():
        content = path.read_text()
    else:
        content = "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(content):
        content = pattern.sub(lambda _: block, content)
    else:
        content = content.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


def add_encoder_arguments(parser):
    """``--encoder`` (the family of the base-size model) and ``--threads``,
    shared by the benchmarks that run an encoder."""
    parser.add_argument("--encoder", choices=sorted(KINDS), default="wavlm")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="torch threads"
    )


def publish(section, out, name):
    """Print a results section and, when ``out`` is given, write it into
    that results file under ``name`` (see :func:`write_section`)."""
    print()
    print(section)
    if out:
        write_section(out, name, section)
        print(f"\nWritten to {out}")
