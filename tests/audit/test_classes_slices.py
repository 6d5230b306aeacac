import numpy as np

from datacentric.audit import class_health, overlapping_classes, slice_accuracy


def test_weak_class_is_the_confused_one():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 30)
    probs = np.full((90, 3), 0.05)
    probs[np.arange(90), labels] = 0.9
    pit = np.flatnonzero(labels == 2)[:14]  # half of 'pit' predicted as 'scratch'
    probs[pit] = [0.02, 0.95, 0.03]
    probs += rng.random(probs.shape) * 0.01
    health = {c.name: c for c in class_health(labels, probs, ["ok", "scratch", "pit"])}
    assert health["pit"].weak and health["pit"].confused_with == "scratch"
    assert abs(health["pit"].recall - 16 / 30) < 1e-9
    assert not health["ok"].weak
    assert health["scratch"].precision < 1.0
    pairs = overlapping_classes(labels, probs, ["ok", "scratch", "pit"])
    assert {pairs[0].a, pairs[0].b} == {"scratch", "pit"}


def test_no_class_is_weak_at_the_overall_level_of_a_weak_model():
    # three classes of 20, each recalled 9 of 20 times: the model is weak, no class is weaker
    labels = np.repeat([0, 1, 2], 20)
    predicted = labels.copy()
    for c in range(3):
        rows = np.flatnonzero(labels == c)[9:]
        predicted[rows] = (c + 1 + np.arange(len(rows)) % 2) % 3
    probs = np.full((60, 3), 0.2)
    probs[np.arange(60), predicted] = 0.6
    health = class_health(labels, probs, ["ok", "minor", "defect"])
    assert [round(h.recall, 2) for h in health] == [0.45, 0.45, 0.45]
    assert not any("recall" in h.reason for h in health)


def test_tiny_class_is_too_few_not_weak():
    labels = np.array([0] * 20 + [1] * 20 + [2] * 2)
    probs = np.full((42, 3), 0.05)
    probs[np.arange(42), labels] = 0.9
    probs[40] = [0.9, 0.05, 0.05]
    health = class_health(labels, probs, ["a", "b", "c"], min_per_class=5)
    assert health[2].too_few and not health[2].weak and health[2].n == 2


def test_bad_camera_slice_is_flagged_and_tiny_slice_is_not():
    rng = np.random.default_rng(0)
    n = 200
    camera = np.where(np.arange(n) < 50, "B", "A")
    correct = np.where(camera == "B", rng.random(n) < 0.6, rng.random(n) < 0.95)
    shift = np.array(["day"] * n, dtype=object)
    shift[:4] = "night"
    correct[:4] = False  # a 4-image slice, all wrong: too small to flag
    metadata = [{"camera": c, "shift": s} for c, s in zip(camera, shift)]
    slices = {(s.column, s.value): s for s in slice_accuracy(correct, metadata, min_size=10)}
    assert slices[("camera", "B")].weak and slices[("camera", "B")].n == 50
    assert not slices[("camera", "A")].weak
    night = slices[("shift", "night")]
    assert night.accuracy == 0.0 and not night.weak and not night.tested


def test_equal_slices_rarely_flagged():
    """Same accuracy everywhere: the Holm-corrected test keeps false alarms under ~alpha."""
    alarms = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        correct = rng.random(300) < 0.85
        metadata = [{"line": str(i % 3), "camera": "AB"[i % 2]} for i in range(300)]
        alarms += any(s.weak for s in slice_accuracy(correct, metadata, alpha=0.05))
    assert alarms <= 6


def test_grouped_slice_test_counts_each_part_once():
    """Four shots each of three badly lit parts are three failures, not twelve."""
    rng = np.random.default_rng(1)
    n = 60
    part = [f"p{i // 4}" for i in range(n)]  # 15 parts, 4 shots each
    camera = np.where(np.arange(n) < 12, "B", "A")  # camera B saw parts p0-p2 only
    correct = np.where(camera == "B", False, rng.random(n) < 0.9)
    metadata = [{"camera": c} for c in camera]
    plain = {s.value: s for s in slice_accuracy(correct, metadata, min_size=10)}
    assert plain["B"].weak and plain["B"].tested
    grouped = {s.value: s for s in slice_accuracy(correct, metadata, min_size=10, groups=part)}
    assert grouped["B"].groups == 3 and grouped["A"].groups == 12
    assert not grouped["B"].tested and not grouped["B"].weak  # 3 parts are too few to judge
    assert grouped["B"].n == 12 and grouped["B"].accuracy == 0.0  # still reported per image


def test_groups_of_one_image_change_nothing():
    rng = np.random.default_rng(2)
    correct = rng.random(120) < 0.8
    metadata = [{"camera": "AB"[i % 2], "line": str(i % 3)} for i in range(120)]
    plain = slice_accuracy(correct, metadata)
    alone = slice_accuracy(correct, metadata, groups=[str(i) for i in range(120)])
    assert [(s.value, s.p_value, s.weak) for s in plain] == [(s.value, s.p_value, s.weak) for s in alone]
