"""fit learns the lecture's problems: XOR with a 2-2-1 sigmoid network, and handwritten digits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn


def test_xor_is_learned_by_a_2_2_1_sigmoid_network_with_sgd():
    net = fnn.MLP((2, 2, 1), activation="sigmoid", output_activation="sigmoid")
    x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], jnp.float32)
    y = jnp.array([[0], [1], [1], [0]], jnp.float32)
    # seed 1 starts outside the XOR problem's local minimum (some 2-2-1 starts never leave it)
    result = fnn.fit(
        net,
        net.init(jax.random.key(1)),
        x,
        y,
        loss="binary_cross_entropy",
        learning_rate=1.0,
        batch_size=1,
        num_epochs=2000,
        key=jax.random.key(101),
        validation=(x, y),
    )
    assert result.num_updates == 8000
    predictions = np.asarray(net.apply(result.params, x)) >= 0.5
    np.testing.assert_array_equal(predictions, np.asarray(y) == 1)
    assert result.history["val_accuracy"][-1] == 1.0
    assert result.history["train_loss"][-1] < 0.01 < result.history["train_loss"][0]


def test_digits_reach_96_percent_test_accuracy_in_30_epochs():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    features, labels = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.25, random_state=0, stratify=labels
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)  # standardize on the training part only
    std[std == 0] = 1.0
    x_train, x_test = (
        ((x_train - mean) / std).astype(np.float32),
        ((x_test - mean) / std).astype(np.float32),
    )
    net = fnn.MLP(
        (64, 32, 10), activation="relu", output_activation="softmax", initializer="he_uniform"
    )
    result = fnn.fit(
        net,
        net.init(jax.random.key(0)),
        x_train,
        y_train,
        loss="categorical_cross_entropy",
        learning_rate=0.1,
        batch_size=32,
        num_epochs=30,
        key=jax.random.key(10),
        validation=(x_test, y_test),
    )
    accuracy = float(
        np.mean(np.argmax(np.asarray(net.apply(result.params, x_test)), axis=1) == y_test)
    )
    assert accuracy >= 0.96
    # the recorded argmax accuracy, a float32 mean over 450 examples (one example is 2.2e-3)
    assert float(result.history["val_accuracy"][-1]) == pytest.approx(accuracy, abs=1e-6)
    assert result.num_updates == 30 * 43  # 1347 examples: 42 full batches of 32 and one of 3
