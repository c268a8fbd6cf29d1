"""The bugs attention matchers really have: padding leaking in, asymmetry, dead parameters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import random_ids, synonym_keys, tiny_esim, tiny_model_config
from dupdetect.model import ESIM
from dupdetect.model.alignment import CrossAttention
from dupdetect.model.comparison import Comparison
from dupdetect.model.dropout import Dropout, keep_mask
from dupdetect.model.embedding import Embedding
from dupdetect.model.encoder import BiLSTM
from dupdetect.model.features import (
    exact_match,
    overlap_features,
    synonym_matches,
    token_matches,
)
from dupdetect.model.head import SymmetricHead
from dupdetect.model.matcher import stack_pair
from dupdetect.model.pooling import MeanMaxPool
from dupdetect.model.self_attention import SelfAttention


def _model(seed: int = 0, **features: bool | str | float) -> ESIM:
    """A tiny model; weights that start at zero (the projected maps' Δ) are made random so
    that the tests see a model away from where training starts."""
    torch.manual_seed(seed)
    model = tiny_esim(tiny_model_config(50, **features)).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2 and not p.any():
                p.normal_(0.0, 0.5)
    return model


def _ids(lengths: list[int], g: torch.Generator, features: dict) -> torch.Tensor:
    """random_ids over a vocabulary of 50; with `words`, each real token also packs a
    random word (char + 50 * word, word 0 = none), as tokenizer.words encodes them."""
    ids = random_ids(lengths, 50, g)
    if features.get("words"):
        ids = ids + 50 * torch.randint(0, 50, ids.shape, generator=g) * (ids > 0)
    return ids


# Every test marked @variants runs on the plain model, with exact match, with both exact
# match and the pair-level overlap features, with characters and words, with the
# feed-forward composition, and with it plus dropout on the comparison's inputs or on its
# folded features (dropout on, so training takes those paths), and with learned Q/K/V
# projections in the alignment and self-attention after the encoder, and with WordNet
# synonym matches beside exact ones (made-up synonym pairs: conftest.synonym_keys).
variants = pytest.mark.parametrize(
    "features",
    [
        {},
        {"exact_match": True},
        {"exact_match": True, "overlap_features": True},
        {"exact_match": True, "overlap_features": True, "words": True},
        {"composition": "feedforward"},
        {"composition": "feedforward", "comparison_dropout": "inputs", "dropout": 0.3},
        {"composition": "feedforward", "comparison_dropout": "folded", "dropout": 0.3},
        {"attention": "projected", "exact_match": True},
        {"attention": "projected", "self_attention": True, "exact_match": True},
        {"exact_match": True, "synonym_match": True},
        {"synonym_match": True, "words": True},
    ],
    ids=[
        "plain",
        "exact_match",
        "overlap",
        "words",
        "feedforward",
        "feedforward_input_dropout",
        "feedforward_folded_dropout",
        "projected",
        "projected_self_attention",
        "synonyms",
        "synonyms_words",
    ],
)


def test_bilstm_backward_direction_does_not_read_padding() -> None:
    torch.manual_seed(0)
    lstm = BiLSTM(4, 3)
    x = torch.randn(1, 5, 4)
    padded = torch.cat([x, torch.randn(1, 3, 4) * 100], dim=1)  # (1, 8, 4), garbage padding
    mask = torch.tensor([[True] * 5 + [False] * 3])
    alone = lstm(x, torch.ones(1, 5, dtype=torch.bool))  # (1, 5, 6)
    batched = lstm(padded, mask)  # (1, 8, 6)
    torch.testing.assert_close(batched[:, :5], alone, rtol=0, atol=1e-6)
    assert batched[:, 5:].abs().max().item() == 0.0
    # The plain padded nn.LSTM gets this wrong: its backward pass starts in the padding.
    naive = nn.LSTM(4, 3, batch_first=True, bidirectional=True)
    naive_alone, naive_batched = naive(x)[0], naive(padded)[0][:, :5]
    assert (naive_alone[..., 3:] - naive_batched[..., 3:]).abs().max().item() > 1e-3


def test_bilstm_backward_state_at_first_token_has_read_the_whole_text() -> None:
    torch.manual_seed(0)
    lstm = BiLSTM(2, 3)
    x = torch.randn(1, 4, 2)
    mask = torch.ones(1, 4, dtype=torch.bool)
    changed = x.clone()
    changed[0, 3] += 1.0  # alter the last token only
    out, out2 = lstm(x, mask), lstm(changed, mask)
    assert torch.equal(out[0, 0, :3], out2[0, 0, :3])  # forward state at token 0: unchanged
    assert not torch.equal(out[0, 0, 3:], out2[0, 0, 3:])  # backward state: changed


def test_cross_attention_aligns_to_the_matching_token_and_never_to_padding() -> None:
    a = torch.tensor([[[10.0, 0.0], [0.0, 10.0]]])  # (1, 2, 2)
    b = torch.tensor([[[0.0, 10.0], [10.0, 0.0], [1e4, 1e4]]])  # (1, 3, 2), last is padding
    a_mask = torch.tensor([[True, True]])
    b_mask = torch.tensor([[True, True, False]])
    a_tilde, b_tilde = CrossAttention()(a, b, a_mask, b_mask)
    torch.testing.assert_close(a_tilde, torch.tensor([[[10.0, 0.0], [0.0, 10.0]]]))
    torch.testing.assert_close(b_tilde[:, :2], torch.tensor([[[0.0, 10.0], [10.0, 0.0]]]))


def test_projected_attention_transposes_exactly_when_the_texts_swap_and_skips_padding() -> None:
    torch.manual_seed(0)
    attention = CrossAttention(4, projected=True)
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(2, 3, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    a_mask = torch.tensor([[True, True, True], [True, False, False]])
    b_mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    with torch.no_grad():
        a_tilde, b_tilde = attention(a, b, a_mask, b_mask)
        b_swapped, a_swapped = attention(b, a, b_mask, a_mask)
        assert torch.equal(a_tilde, a_swapped) and torch.equal(b_tilde, b_swapped)
        b[1, 2:] = 1e4  # padding of b: no row of a may attend to it
        torch.testing.assert_close(attention(a, b, a_mask, b_mask)[0], a_tilde)
        # a text of one token is aligned to that token's value, whatever the score
        torch.testing.assert_close(b_tilde[1], attention.maps.value(a[1, :1]).expand(5, 4))


def test_projected_attention_starts_as_dot_attention_and_its_maps_move_it() -> None:
    torch.manual_seed(0)
    dot = ESIM(tiny_model_config(exact_match=True)).eval()
    projected = ESIM(tiny_model_config(exact_match=True, attention="projected")).eval()
    missing = projected.load_state_dict(dot.state_dict(), strict=False).missing_keys
    assert sorted(missing) == [
        "alignment.maps.score_delta.weight",
        "alignment.maps.value_delta.weight",
    ]
    g = torch.Generator().manual_seed(7)
    a_ids, b_ids = random_ids([5, 3], 50, g), random_ids([4, 6], 50, g)
    with torch.no_grad():
        assert torch.equal(projected(a_ids, b_ids), dot(a_ids, b_ids))
        projected.alignment.maps.value_delta.weight.normal_(0.0, 0.5, generator=g)
        assert not torch.allclose(projected(a_ids, b_ids), dot(a_ids, b_ids))


def test_self_attention_stays_within_the_real_tokens_of_its_own_text() -> None:
    torch.manual_seed(0)
    attend = SelfAttention(4)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 4, 4, generator=g)
    mask = torch.tensor([[True] * 4, [True, False, False, False]])
    with torch.no_grad():
        out = attend(x, mask)  # (2, 4, 4)
        x[1, 1:] = 1e4  # padding
        torch.testing.assert_close(attend(x, mask)[:, :1], out[:, :1])
        torch.testing.assert_close(out[0], attend(x[:1], mask[:1])[0])  # batch-mates unseen
        torch.testing.assert_close(out[1, 0], x[1, 0] + attend.qkv.value(x[1, 0]))
        assert not torch.allclose(out[0], x[0])


def test_comparison_features_are_token_aligned_difference_and_product() -> None:
    comp = Comparison(2, 4)
    with torch.no_grad():
        comp.projection.weight.zero_()
        comp.projection.bias.zero_()
        comp.projection.weight[0, 4] = 1.0  # x - x̃, first dim
        comp.projection.weight[1, 6] = 1.0  # x ⊙ x̃, first dim
    x, x_tilde = torch.tensor([[[3.0, 1.0]]]), torch.tensor([[[1.0, 5.0]]])
    assert comp(x, x_tilde).tolist() == [[[2.0, 3.0, 0.0, 0.0]]]


def test_comparison_folded_in_eval_equals_the_wide_form() -> None:
    torch.manual_seed(0)
    comp = Comparison(6, 5, dropout=0.3).eval()
    x, x_tilde = torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    wide = torch.cat([x, x_tilde, x - x_tilde, x * x_tilde], dim=-1)  # (2, 4, 24)
    expected = torch.relu(comp.projection(wide))
    torch.testing.assert_close(comp(x, x_tilde), expected, atol=1e-6, rtol=1e-5)


def test_comparison_input_dropout_trains_on_the_folded_form_of_the_masked_inputs() -> None:
    """dropout_on="inputs": training masks x and x̃ (one mask each, same generator order)
    and must then equal the 4D-wide form on the masked inputs, with a gradient to every
    block of W (W₃ reaches the loss only through the fold)."""
    torch.manual_seed(0)
    comp = Comparison(6, 5, dropout=0.3, dropout_on="inputs").train()
    x, x_tilde = torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    torch.manual_seed(1)
    out = comp(x, x_tilde)
    torch.manual_seed(1)
    xd, xtd = comp.dropout(x), comp.dropout(x_tilde)
    assert (xd == 0).any() and (xtd == 0).any()  # the masks did drop units
    wide = torch.cat([xd, xtd, xd - xtd, xd * xtd], dim=-1)  # (2, 4, 24)
    torch.testing.assert_close(out, torch.relu(comp.projection(wide)), atol=1e-6, rtol=1e-5)
    out.sum().backward()
    grad = comp.projection.weight.grad
    assert grad is not None
    assert all(block.abs().sum() > 0 for block in grad.chunk(4, dim=1))


def test_comparison_folded_dropout_trains_on_the_wide_form_with_a_shared_difference() -> None:
    """dropout_on="folded": training masks each of [x; x̃; x ⊙ x̃] on its own and must then
    equal the 4D-wide form with x − x̃ taken between the masked x and x̃, with a gradient to
    every block of W."""
    torch.manual_seed(0)
    comp = Comparison(6, 5, dropout=0.3, dropout_on="folded").train()
    x, x_tilde = torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    torch.manual_seed(1)
    out = comp(x, x_tilde)
    torch.manual_seed(1)
    xd, xtd, pd = comp.dropout(torch.cat([x, x_tilde, x * x_tilde], dim=-1)).chunk(3, dim=-1)
    assert all((t == 0).any() for t in (xd, xtd, pd))  # the masks did drop units
    assert not torch.equal(pd == 0, (xd == 0) | (xtd == 0))  # the product has its own mask
    wide = torch.cat([xd, xtd, xd - xtd, pd], dim=-1)  # (2, 4, 24)
    torch.testing.assert_close(out, torch.relu(comp.projection(wide)), atol=1e-6, rtol=1e-5)
    out.sum().backward()
    grad = comp.projection.weight.grad
    assert grad is not None
    assert all(block.abs().sum() > 0 for block in grad.chunk(4, dim=1))


def test_mean_max_pool_shape_and_values() -> None:
    x = torch.tensor([[[1.0], [3.0], [9.0]]])
    out = MeanMaxPool()(x, torch.tensor([[True, True, False]]))
    assert out.tolist() == [[2.0, 3.0]]


def test_head_is_exactly_symmetric() -> None:
    torch.manual_seed(0)
    head = SymmetricHead(7, 5).eval()
    v_a, v_b = torch.randn(16, 7), torch.randn(16, 7)
    assert torch.equal(head(v_a, v_b), head(v_b, v_a))


def test_stack_pair_pads_both_texts_to_one_length() -> None:
    ids = stack_pair(torch.tensor([[1, 2, 3]]), torch.tensor([[4]]))
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0]]


@variants
def test_each_pair_scored_alone_equals_its_row_in_a_padded_batch(
    features: dict[str, bool | str | float],
) -> None:
    model = _model(**features)
    g = torch.Generator().manual_seed(1)
    la, lb = [3, 9, 1, 6, 12, 4], [7, 2, 5, 12, 1, 8]
    a, b = _ids(la, g, features), _ids(lb, g, features)
    with torch.no_grad():
        batch = model(a, b)  # (6,)
        for i in range(len(la)):
            alone = model(a[i : i + 1, : la[i]], b[i : i + 1, : lb[i]])
            assert abs(alone.item() - batch[i].item()) <= 1e-5, i


@variants
def test_score_is_exactly_symmetric(features: dict[str, bool | str | float]) -> None:
    model = _model(**features)
    g = torch.Generator().manual_seed(2)
    a = _ids([5, 2, 8, 3], g, features)
    b = _ids([1, 9, 4, 4], g, features)
    with torch.no_grad():
        assert torch.equal(model(a, b), model(b, a))


@variants
def test_every_trainable_parameter_gets_a_gradient(features: dict[str, bool | str | float]) -> None:
    torch.manual_seed(0)
    model = tiny_esim(tiny_model_config(**features)).train()
    g = torch.Generator().manual_seed(3)
    a, b = _ids([4, 6, 2], g, features), _ids([5, 3, 7], g, features)
    loss = nn.functional.binary_cross_entropy_with_logits(model(a, b), torch.tensor([1.0, 0, 1]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum().item() > 0, name
    assert model.embedding.table.weight.grad[0].abs().sum().item() == 0.0  # [PAD] row


@variants
def test_output_is_one_logit_per_pair_and_eval_is_deterministic(
    features: dict[str, bool | str | float],
) -> None:
    model = _model(**features)
    g = torch.Generator().manual_seed(4)
    a, b = _ids([3, 4], g, features), _ids([2, 5], g, features)
    with torch.no_grad():
        out = model(a, b)
        assert out.shape == (2,)
        assert torch.equal(out, model(a, b))


def test_packed_words_add_their_row_and_leave_masks_and_matching_to_the_characters() -> None:
    """tokenizer.words: id = char + V * word. The vector is row(char) + row(word), word 0
    adds nothing, and exact match compares characters, whatever word each is part of."""
    torch.manual_seed(0)
    emb = Embedding(50, 4, words=True)
    table = emb.table.weight
    ids = torch.tensor([[7 + 50 * 30, 7, 9 + 50 * 31, 0]])  # (1, 4): char 7 in word 30, ...
    want = torch.stack([table[7] + table[30], table[7], table[9] + table[31], table[0]])
    torch.testing.assert_close(emb(ids)[0], want, rtol=0, atol=0)
    assert emb.tokens(ids).tolist() == [[7, 7, 9, 0]]
    model = _model(exact_match=True, words=True)
    seen = []  # the encoder's input: embedding + exact-match column
    model.encoder.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
    b = torch.tensor([[7 + 50 * 12, 3]])  # char 7 again, in another word
    with torch.no_grad():
        model(ids, b)
    assert seen[0][0, :, -1].tolist() == [1.0, 1.0, 0.0, 0.0]  # a's tokens found in b
    assert seen[0][1, :2, -1].tolist() == [1.0, 0.0]  # b's tokens found in a


def test_exact_match_marks_shared_tokens_but_not_unknown_or_padding() -> None:
    a = torch.tensor([[5, 1, 7, 0]])  # 1 = [UNK], 0 = [PAD]
    b = torch.tensor([[7, 1, 0]])
    in_b, in_a = exact_match(token_matches(a, b))
    assert in_b.squeeze(-1).tolist() == [[0.0, 0.0, 1.0, 0.0]]
    assert in_a.squeeze(-1).tolist() == [[1.0, 0.0, 0.0]]
    swapped = exact_match(token_matches(b, a))
    assert torch.equal(swapped[0], in_a) and torch.equal(swapped[1], in_b)


def test_exact_match_changes_the_score() -> None:
    g = torch.Generator().manual_seed(5)
    a, b = random_ids([4, 6], 50, g), random_ids([5, 3], 50, g)
    with torch.no_grad():
        assert not torch.equal(_model(exact_match=False)(a, b), _model(exact_match=True)(a, b))


def test_synonym_matches_mark_synonyms_in_the_other_text_never_padding() -> None:
    keys = synonym_keys(50)  # i + j divisible by 7 (i != j, both >= 2)
    a = torch.tensor([[3, 5, 9, 0]])  # 3 ~ 4, 11, ...; 5 ~ 2, 9, 16, ...; 9 ~ 5, 12, ...
    b = torch.tensor([[4, 12, 0]])  # 4 ~ 3, 10, ...; 12 ~ 2, 9, 16, ...
    in_b, in_a = exact_match(synonym_matches(a, b, keys, 50))
    assert in_b.squeeze(-1).tolist() == [[1.0, 0.0, 1.0, 0.0]]  # 3 ~ 4, 9 ~ 12
    assert in_a.squeeze(-1).tolist() == [[1.0, 1.0, 0.0]]
    swapped = exact_match(synonym_matches(b, a, keys, 50))
    assert torch.equal(swapped[0], in_a) and torch.equal(swapped[1], in_b)
    assert not synonym_matches(a, b, keys[:0], 50).any()  # no pairs: nothing matches


def test_synonym_match_reads_the_keys_the_model_holds() -> None:
    g = torch.Generator().manual_seed(5)
    a, b = random_ids([4, 6], 50, g), random_ids([5, 3], 50, g)
    model = _model(synonym_match=True)
    with torch.no_grad():
        before = model(a, b)
        model.synonym_keys.fill_(-1)  # a key no pair has: the feature is 0 everywhere
        assert not torch.equal(before, model(a, b))


def test_overlap_features_count_shared_unigrams_and_bigrams_and_are_symmetric() -> None:
    a = torch.tensor([[5, 6, 7, 8], [5, 1, 0, 0]])  # 1 = [UNK], 0 = [PAD]
    b = torch.tensor([[6, 7, 9, 0], [5, 1, 0, 0]])
    # Row 0: a shares 6, 7 (2 of 4 tokens) and bigram 6-7 (1 of 3); b shares 2 of 3 tokens
    # and 1 of 2 bigrams; lengths 4 and 3. Row 1: [UNK] never matches, so 1 of 2 tokens and
    # no bigram.
    expected = [[2 / 4, 2 / 3, 1 / 3, 1 / 2, 3 / 4], [1 / 2, 1 / 2, 0.0, 0.0, 1.0]]
    ab = overlap_features(token_matches(a, b), a != 0, b != 0)
    torch.testing.assert_close(ab, torch.tensor(expected))
    assert torch.equal(ab, overlap_features(token_matches(b, a), b != 0, a != 0))


def test_overlap_features_change_the_score() -> None:
    g = torch.Generator().manual_seed(5)
    a, b = random_ids([4, 6], 50, g), random_ids([5, 3], 50, g)
    with torch.no_grad():
        assert not torch.equal(
            _model(exact_match=True)(a, b), _model(exact_match=True, overlap_features=True)(a, b)
        )


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p: float) -> None:
    torch.manual_seed(0)
    x = torch.ones(400_000)
    y = Dropout(p).train()(x)
    kept = y != 0
    assert abs((~kept).float().mean().item() - p) < 0.005  # s.d. of the fraction < 0.001
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1.0 / (1.0 - p)))
    assert abs(y.mean().item() - 1.0) < 0.01  # inverted dropout keeps the expectation


def test_dropout_mask_bits_are_independent_of_their_neighbours() -> None:
    # four elements share one 64-bit word: their masks must still be independent
    torch.manual_seed(0)
    keep = keep_mask(torch.Size([4 * 100_000]), 0.5).view(-1, 4).float()
    both = (keep[:, :3] * keep[:, 1:]).mean(0)  # P(neighbours both kept) per slot
    assert torch.allclose(both, torch.full_like(both, 0.25), atol=0.01)


def test_dropout_is_the_identity_in_eval_and_reproducible_under_a_seed() -> None:
    x = torch.randn(3, 5, 7)
    assert torch.equal(Dropout(0.3).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    torch.manual_seed(1)
    first = Dropout(0.3).train()(x)
    torch.manual_seed(1)
    assert torch.equal(Dropout(0.3).train()(x), first)
    assert not torch.equal(Dropout(0.3).train()(x), first)  # the generator moved on
    with pytest.raises(ValueError, match="probability"):
        Dropout(1.5)


def test_dropout_gradient_is_the_scaled_mask() -> None:
    torch.manual_seed(0)
    x = torch.randn(6, 9, requires_grad=True)
    y = Dropout(0.4).train()(x)
    y.sum().backward()
    assert x.grad is not None
    expected = (y != 0).float() / 0.6
    assert torch.allclose(x.grad, expected)
