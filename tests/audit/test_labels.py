import numpy as np

from datacentric.audit import label_issues


def test_finds_planted_label_errors_worst_first(synthetic):
    issues = label_issues(synthetic.labels, synthetic.probs, synthetic.classes)
    assert len(issues) == len(synthetic.labels)  # every image gets an entry
    qualities = [i.quality for i in issues]
    assert qualities == sorted(qualities)  # worst first
    flagged = {i.index for i in issues if i.is_issue}
    assert set(synthetic.wrong) <= flagged
    for issue in issues:
        if issue.index in set(synthetic.wrong):
            assert issue.given == synthetic.classes[synthetic.labels[issue.index]]
            assert issue.suggested == synthetic.classes[synthetic.truth[issue.index]]
            assert issue.suggested != issue.given


def test_clean_labels_are_not_flagged():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 20)
    probs = np.full((60, 3), 0.05)
    probs[np.arange(60), labels] = 0.9
    probs += rng.random((60, 3)) * 0.01
    issues = label_issues(labels, probs, ["a", "b", "c"])
    assert not any(i.is_issue for i in issues)


def test_one_example_class_is_not_judged():
    labels = np.array([0] * 20 + [1] * 20 + [2])
    probs = np.full((41, 3), 0.05)
    probs[np.arange(41), labels] = 0.9
    probs[40] = [0.9, 0.05, 0.05]  # the lone 'rare' image: the model thinks it's class 0
    probs[3] = [0.05, 0.05, 0.9]  # a class-0 image the model calls 'rare'
    issues = {i.index: i for i in label_issues(labels, probs, ["a", "b", "rare"])}
    assert issues[40].judged is False and issues[40].is_issue is False
    assert issues[3].judged is False and issues[3].is_issue is False
    assert issues[0].judged is True


def test_images_and_ids_name_the_entries():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.eye(2)[labels] * 0.8 + 0.1
    issues = label_issues(
        labels,
        probs,
        ["x", "y"],
        images=[f"p{i}.png" for i in range(6)],
        ids=[f"id{i}" for i in range(6)],
        min_per_class=1,
    )
    assert {i.image for i in issues} == {f"p{i}.png" for i in range(6)}
    assert all(i.id == "id" + i.image[1] for i in issues)


def _weak_slice_set():
    """The synthetic set with ties broken: planted errors plus a slice the model gets wrong."""
    from tests.support.synthetic import make_synthetic

    s = make_synthetic(seed=0)
    return s, s.probs + np.random.default_rng(0).random(s.probs.shape) * 1e-3


def test_flags_are_the_worst_ranked_images():
    s, probs = _weak_slice_set()
    issues = label_issues(s.labels, probs, s.classes)
    flags = [i.is_issue for i in issues]
    n = sum(flags)
    assert n > 0 and all(flags[:n]) and not any(flags[n:])  # a flagged image never ranks better
    assert set(s.wrong) <= {i.index for i in issues if i.is_issue}


def test_default_rule_flags_fewer_model_mistakes_than_prune_by_noise_rate():
    # cleanlab's default rule flags more of the weak slice's model errors (and out of rank order)
    s, probs = _weak_slice_set()
    wrong = set(s.wrong.tolist())
    ours = {i.index for i in label_issues(s.labels, probs, s.classes) if i.is_issue}
    old = label_issues(s.labels, probs, s.classes, filter_by="prune_by_noise_rate")
    old_flags = [i.is_issue for i in old]
    assert not all(old_flags[: sum(old_flags)])  # the override reaches cleanlab
    assert wrong <= ours and len(ours - wrong) < len({i.index for i in old if i.is_issue} - wrong)
