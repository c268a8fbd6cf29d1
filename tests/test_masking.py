from __future__ import annotations

import torch

from dupdetect.model.masking import masked_max, masked_mean, masked_softmax, reverse_within_length


def test_masked_softmax_gives_padding_exactly_zero_weight() -> None:
    scores = torch.tensor([[1.0, 2.0, 3.0]])
    mask = torch.tensor([[True, True, False]])
    weights = masked_softmax(scores, mask)
    assert weights[0, 2].item() == 0.0
    torch.testing.assert_close(weights[0, :2], torch.softmax(torch.tensor([1.0, 2.0]), -1))
    torch.testing.assert_close(weights[0, :2], torch.tensor([0.26894142, 0.73105858]))


def test_masked_softmax_ignores_huge_padding_scores_in_half_precision() -> None:
    scores = torch.tensor([[0.0, 60000.0]], dtype=torch.float16)
    weights = masked_softmax(scores, torch.tensor([[True, False]]))
    assert weights.tolist() == [[1.0, 0.0]]


def test_masked_mean_and_max_ignore_padding_even_if_it_is_nan() -> None:
    x = torch.tensor([[[1.0, -2.0], [3.0, -4.0], [float("nan"), 100.0]]])  # (1, 3, 2)
    mask = torch.tensor([[True, True, False]])
    assert masked_mean(x, mask).tolist() == [[2.0, -3.0]]
    assert masked_max(x, mask).tolist() == [[3.0, -2.0]]


def test_pooling_of_a_row_without_tokens_is_zero_not_a_huge_number() -> None:
    x = torch.ones(2, 3, 4)
    mask = torch.tensor([[True, False, False], [False, False, False]])
    assert masked_max(x, mask)[1].tolist() == [0.0] * 4
    assert masked_mean(x, mask)[1].tolist() == [0.0] * 4


def test_reverse_within_length_keeps_padding_in_place_and_is_its_own_inverse() -> None:
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]).unsqueeze(-1).float()  # (2, 4, 1)
    mask = x.squeeze(-1) != 0
    rev = reverse_within_length(x, mask)
    assert rev.squeeze(-1).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_within_length(rev, mask), x)
