"""A tiny llama-architecture GGUF model, made on the spot, for testing against real servers.

No model weights can be downloaded here, and none are needed: a server such as
llama-cpp-python's only has to load *a* valid model and generate from it.  The
model written by :func:`write_tiny_llama` has random (seeded, so reproducible)
weights, so it writes gibberish; tests assert on the shape of a reply, never
its meaning.  It is about 0.5 MB and takes milliseconds to make.
"""

from __future__ import annotations

from pathlib import Path

SEED = 1234

N_LAYERS = 2
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2  # grouped-query attention, as in current llama models
N_FF = 128
CONTEXT_LENGTH = 2048

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"

# SentencePiece marks a word's leading space with U+2581.
SPACE = "\u2581"

# GGUF's token types (gguf.TokenType), spelled out so that this module imports
# without gguf installed: the tests import it before they know they can run.
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6

WORDS = (
    "the a an and or of to in on at is it was he she we they you i this that "
    "room agent chat model token reply tool test note plan code data time "
    "red blue green light dark fast slow big small new old good bad yes no"
)
"""The words the vocabulary has pieces for (separated by spaces)."""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""ChatML, so that ``/v1/chat/completions`` works through the server's own
template route (llama-cpp-python renders ``tokenizer.chat_template`` with jinja)."""


def _vocab() -> tuple[list[str], list[float], list[int], list[bool]]:
    """Tokens, their scores, their types, and which ones the model may generate.

    * ``<unk>``, ``<s>``, ``</s>`` and the ChatML markers are control tokens:
      llama.cpp needs the first three, and the markers keep the prompt short.
    * ``<0x00>`` .. ``<0xFF>`` are SentencePiece's byte fallback: any text at
      all can be tokenized, whatever the word pieces cover.
    * The word pieces are the letters, then every prefix of each ``▁word``, so
      the SPM tokenizer (which merges adjacent pieces only into pieces that
      exist) can build whole words; longer pieces score higher and win.

    Only letters and word pieces may be generated (see :data:`MAX_PIECE_CHARS`):
    the output then is plain ASCII, never a stray byte or an end-of-text.
    """
    tokens = [UNK, BOS, EOS, IM_START, IM_END]
    types = [UNKNOWN, CONTROL, CONTROL, CONTROL, CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [BYTE] * 256
    pieces: list[str] = [SPACE, *"abcdefghijklmnopqrstuvwxyz"]
    for word in WORDS.split():
        for end in range(1, len(word) + 1):
            piece = SPACE + word[:end]
            if piece not in pieces:
                pieces.append(piece)
    generable = [False] * len(tokens) + [piece != SPACE for piece in pieces]
    tokens += pieces
    types += [NORMAL] * len(pieces)
    scores = [float(len(tok)) if t == NORMAL else 0.0 for tok, t in zip(tokens, types, strict=True)]
    return tokens, scores, types, generable


_TOKENS, _SCORES, _TYPES, _GENERABLE = _vocab()

VOCAB_SIZE = len(_TOKENS)

MAX_PIECE_CHARS = max(len(tok) for tok, ok in zip(_TOKENS, _GENERABLE, strict=True) if ok)
"""The most characters one generated token can add to a reply (``▁`` becomes a
space), so a reply of ``n`` tokens is at most ``n * MAX_PIECE_CHARS`` long."""


def write_tiny_llama(path: Path) -> Path:
    """Write the tiny model to ``path`` (a ``.gguf`` file) and return ``path``.

    The tensors are exactly those llama.cpp's ``llama`` architecture loads:
    token embeddings, per layer an RMS norm, Q/K/V/O attention and a gated
    (SwiGLU) feed-forward with its norm, then a final norm and the output
    projection.  Everything is float32, so no quantization code is involved.
    Rows of the output projection for tokens that must not be generated are
    zero while the others are random, so greedy decoding (temperature 0) never
    picks them: replies never end early and always run to ``max_tokens`` or a
    stop string.
    """
    import gguf
    import numpy as np

    rng = np.random.default_rng(SEED)
    head_dim = N_EMBD // N_HEAD

    def weights(*shape: int, scale: float = 1.0) -> np.ndarray:
        # numpy shape is (rows, cols); GGUF stores it reversed, as llama.cpp wants.
        return (rng.standard_normal(shape) * scale / np.sqrt(shape[-1])).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("agentroom-tiny-test-llama")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYERS)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(VOCAB_SIZE)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(_TOKENS)
    writer.add_token_scores(_SCORES)
    writer.add_token_types(_TYPES)
    writer.add_unk_token_id(_TOKENS.index(UNK))
    writer.add_bos_token_id(_TOKENS.index(BOS))
    writer.add_eos_token_id(_TOKENS.index(EOS))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    # Embeddings of unit scale, so each token moves the residual stream.
    writer.add_tensor("token_embd.weight", weights(VOCAB_SIZE, N_EMBD, scale=np.sqrt(N_EMBD)))
    for i in range(N_LAYERS):
        blk = f"blk.{i}"
        writer.add_tensor(f"{blk}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{blk}.attn_q.weight", weights(N_HEAD * head_dim, N_EMBD))
        writer.add_tensor(f"{blk}.attn_k.weight", weights(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(f"{blk}.attn_v.weight", weights(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(f"{blk}.attn_output.weight", weights(N_EMBD, N_HEAD * head_dim))
        writer.add_tensor(f"{blk}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{blk}.ffn_gate.weight", weights(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_up.weight", weights(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_down.weight", weights(N_EMBD, N_FF))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    # Sharper logits than the other layers, so greedy choices are not near-ties.
    output = weights(VOCAB_SIZE, N_EMBD, scale=4.0)
    output[~np.array(_GENERABLE)] = 0.0
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
