from __future__ import annotations

import pytest

from dupdetect.config import ConfigError, TokenizerConfig, load_config
from dupdetect.tokenizer import PAD_ID, UNK_ID, build_tokenizer, encode, load_tokenizer


def _tokens(tok, text: str, segmenter: str = "char") -> list[str]:
    cfg = TokenizerConfig(segmenter=segmenter)
    return [tok.id_to_token(i) for i in encode(tok, [text], cfg)[0]]


def test_chinese_is_split_into_characters_and_english_lower_cased() -> None:
    tok = build_tokenizer(["我想买个新手机", "Buy a NEW phone!"], TokenizerConfig())
    assert tok.token_to_id("[PAD]") == PAD_ID and tok.token_to_id("[UNK]") == UNK_ID
    assert _tokens(tok, "买手机 Phone") == ["买", "手", "机", "phone"]
    assert _tokens(tok, "新车!") == ["新", "[UNK]", "!"]


def test_unicode_is_normalised_nfkc() -> None:
    tok = build_tokenizer(["ｈｅｌｌｏ，世界"], TokenizerConfig())  # full-width letters, comma
    assert _tokens(tok, "hello,世界") == ["hello", ",", "世", "界"]


def test_min_frequency_max_vocab_and_truncation() -> None:
    cfg = TokenizerConfig(min_frequency=2, max_vocab=4, max_length=3)
    tok = build_tokenizer(["a a a b b c", "a b d"], cfg)
    assert tok.get_vocab_size() == 4  # [PAD], [UNK], a, b
    assert encode(tok, ["a b c d a"])[0] == [2, 3, UNK_ID]


def test_a_text_that_normalises_to_nothing_still_has_one_token() -> None:
    tok = build_tokenizer(["a b"], TokenizerConfig())
    assert encode(tok, ["\u200b"]) == [[UNK_ID]]


def test_jieba_segments_chinese_into_words() -> None:
    cfg = TokenizerConfig(segmenter="jieba")
    texts = ["我手机丢了，我想换个手机", "我想买个新手机，求推荐"]
    tok = build_tokenizer(texts, cfg)
    assert _tokens(tok, texts[1], "jieba") == ["我想", "买个", "新手机", ",", "求", "推荐"]


def test_oov_buckets_give_the_same_unseen_word_the_same_id() -> None:
    tok = build_tokenizer(["the price rose", "prices rose"], TokenizerConfig())
    vocab = tok.get_vocab_size()
    texts = ["The price rose 4.5% at Acme", "ACME's price: 4.5%, 车"]
    # the price rose 4 . 5 % at acme / acme ' s price : 4 . 5 % , 车
    a, b = encode(tok, texts, TokenizerConfig(oov_buckets=1000))
    assert a[:3] == [5, 3, 2] and b[3] == 3  # known words keep their vocabulary ids
    unseen = a[3:] + b[:3] + b[4:]
    assert all(vocab <= i < vocab + 1000 for i in unseen)
    assert a[8] == b[0]  # "Acme" and "ACME" normalise to the same word: one id
    assert a[3:7] == b[5:9]  # 4 . 5 %
    assert len({*a[3:], b[1], b[2], b[4], b[9], b[10]}) == 11  # 11 different words, 11 ids
    assert encode(tok, ["acme"]) == [[UNK_ID]]  # without buckets: [UNK]


def test_extra_words_join_the_vocabulary_after_the_learned_ones(tmp_path) -> None:
    cfg = TokenizerConfig(min_frequency=1, max_vocab=4, max_length=8)
    extra = ["Zebra", "a", "two words", "u.s.", "\u200b", "ostrich", "zebra"]
    tok = build_tokenizer(["a a b c"], cfg, extra)
    vocab = tok.get_vocab()
    # [PAD], [UNK], a, b from the texts (max_vocab 4); then the single-token extra words,
    # normalised, once each; "two words" and "u.s." are several tokens, "\u200b" none.
    assert vocab == {"[PAD]": 0, "[UNK]": 1, "a": 2, "b": 3, "zebra": 4, "ostrich": 5}
    assert encode(tok, ["A zebra, c"])[0] == [2, 4, UNK_ID, UNK_ID]
    tok.save(str(tmp_path / "tokenizer.json"))
    again = load_tokenizer(tmp_path / "tokenizer.json")
    assert encode(again, ["a ZEBRA ostrich b c d e f g h"])[0] == [2, 4, 5, 3, 1, 1, 1, 1]


def test_words_pack_each_character_with_the_jieba_word_it_is_in() -> None:
    """tokenizer.words: characters stay the tokens; words of 2+ characters with Chinese in
    them join the vocabulary after the characters, and each id is char + V * word."""
    cfg = TokenizerConfig(words=True, min_frequency=1)
    texts = ["我手机丢了，我想换个手机", "我想买个新手机，求推荐", "ＩＰｈｏｎｅ手机好吗"]
    tok = build_tokenizer(texts, cfg)
    chars = build_tokenizer(texts, TokenizerConfig())
    vocab = tok.get_vocab_size()
    assert vocab > chars.get_vocab_size()  # the words come after every character
    assert tok.token_to_id("手机") >= chars.get_vocab_size()
    assert tok.token_to_id("手") == chars.token_to_id("手")
    packed = encode(tok, texts, cfg)
    assert [[i % vocab for i in ids] for ids in packed] == encode(chars, texts)
    words = [tok.id_to_token(i // vocab) for i in packed[2]]  # full-width letters, NFKC'd
    assert [tok.id_to_token(i % vocab) for i in packed[2]] == ["iphone", "手", "机", "好", "吗"]
    assert words == ["[PAD]", "手机", "手机", "[PAD]", "[PAD]"]  # 0: in no known word


def test_words_need_the_character_segmenter() -> None:
    with pytest.raises(ConfigError, match=r"tokenizer\.words: needs tokenizer\.segmenter=char"):
        load_config(None, ["tokenizer.words=true", "tokenizer.segmenter=jieba"])
