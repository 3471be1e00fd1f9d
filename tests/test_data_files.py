"""fnn.data from files: CSV, NPZ and IDX (the MNIST format), on small files the tests write."""

import gzip
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from functional_nn import data

# --- CSV -------------------------------------------------------------------------------


def test_csv_with_header_and_last_column_target(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("a,b,label\n0.5,1,0\n\n-2,3.25,2\n1e-3,0,1\n")
    x, y = data.load_csv(path)
    np.testing.assert_array_equal(x, np.array([[0.5, 1], [-2, 3.25], [1e-3, 0]], np.float32))
    assert x.dtype == jnp.float32 and y.dtype == jnp.int32 and y.tolist() == [0, 2, 1]
    raw = data.read_csv(path)
    assert raw.feature_names == ("a", "b") and raw.task == "classification" and raw.num_classes == 3


def test_csv_target_by_name_or_index_and_no_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("y,x1,x2\n1.5,1,2\n2.5,3,4\n")
    x, y = data.load_csv(path, target="y", task="regression")
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(y, [[1.5], [2.5]])
    bare = tmp_path / "bare.csv"
    bare.write_text("1,2,3\n4,5,6\n")
    x, y = data.load_csv(bare, target=0, task="regression")
    np.testing.assert_array_equal(x, [[2, 3], [5, 6]])
    np.testing.assert_array_equal(y, [[1], [4]])
    assert data.read_csv(bare, target=0, task="regression").feature_names == ("x1", "x2")
    with pytest.raises(ValueError, match="no column named 'z'; columns: y, x1, x2"):
        data.load_csv(path, target="z")
    with pytest.raises(ValueError, match="target must be"):
        data.load_csv(bare, target=3)


def test_csv_text_and_bipolar_targets_are_renumbered(tmp_path):
    path = tmp_path / "iris_like.csv"
    path.write_text(
        "1,2,setosa\n3,4,virginica\n5,6,setosa\n"
    )  # no header: the feature cells are numbers
    raw = data.read_csv(path)
    assert (
        raw.y.tolist() == [0, 1, 0]
        and raw.class_names == ("setosa", "virginica")
        and raw.num_classes == 2
    )
    bipolar = tmp_path / "bipolar.csv"
    bipolar.write_text("x,t\n0.1,-1\n0.2,1\n0.3,1\n")
    raw = data.read_csv(bipolar)
    assert raw.y.tolist() == [0, 1, 1] and raw.class_names == ("-1", "1")


def test_csv_task_inference(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("x,t\n" + "".join(f"{i},{i * 0.5}\n" for i in range(6)))
    assert data.read_csv(path).task == "regression"
    many = tmp_path / "many.csv"
    many.write_text(
        "x,t\n" + "".join(f"{i},{i}\n" for i in range(40))
    )  # 40 distinct integers: not labels
    assert data.read_csv(many).task == "regression"
    with pytest.raises(ValueError, match="class labels must be integers"):
        data.read_csv(path, task="classification")
    with pytest.raises(ValueError, match="task must be"):
        data.read_csv(path, task="ranking")


def test_csv_errors_name_file_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 3, column 'b': 'oops' is not a number"):
        data.load_csv(path, header=True)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,0\n3,1\n")
    with pytest.raises(ValueError, match=r"ragged.csv, line 2: 2 columns, the first row has 3"):
        data.load_csv(ragged)
    nan = tmp_path / "nan.csv"
    nan.write_text("1,nan,0\n")
    with pytest.raises(ValueError, match="not finite"):
        data.load_csv(nan)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="no rows"):
        data.load_csv(empty)


def test_load_dataset_reads_csv_and_tsv(tmp_path, key):
    rows = "".join(f"{i},{(i * 7) % 5},{i % 2}\n" for i in range(20))
    (tmp_path / "d.csv").write_text("u,v,c\n" + rows)
    (tmp_path / "d.tsv").write_text("u\tv\tc\n" + rows.replace(",", "\t"))
    for name in ("d.csv", "d.tsv"):
        ds = data.load_dataset(tmp_path / name, key=key)
        assert ds.name == "d" and ds.task == "classification" and ds.num_classes == 2
        assert ds.feature_names == ("u", "v") and ds.x_train.shape == (12, 2)
    ds = data.load_dataset(str(tmp_path / "d.csv"), key=key, target="u", task="regression")
    assert ds.task == "regression" and ds.y_train.shape == (12, 1)
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ValueError, match="unknown file type '.json'"):
        data.load_dataset(tmp_path / "d.json", key=key)
    with pytest.raises(ValueError, match="toy sets"):
        data.load_dataset(tmp_path / "d.csv", key=key, n=5)


# --- NPZ -------------------------------------------------------------------------------


def test_npz_integer_labels_and_float_targets(tmp_path):
    images = np.arange(24, dtype=np.uint8).reshape(6, 2, 2)
    np.savez(tmp_path / "c.npz", x=images, y=np.array([0, 1, 2, 0, 1, 2], np.int64))
    x, y = data.load_npz(tmp_path / "c.npz")
    assert x.shape == (6, 4) and x.dtype == jnp.float32 and y.dtype == jnp.int32
    np.testing.assert_array_equal(x, images.reshape(6, 4))
    np.savez(tmp_path / "r.npz", inputs=np.ones((3, 2)), targets=np.array([0.5, 1.0, 2.0]))
    x, y = data.load_npz(tmp_path / "r.npz", x_key="inputs", y_key="targets")
    assert y.shape == (3, 1) and y.dtype == jnp.float32
    ds = data.load_dataset(tmp_path / "c.npz", key=jax.random.key(0), fractions=(0.5, 0.5, 0.0))
    assert ds.num_classes == 3 and ds.x_test.shape == (0, 4)


def test_npz_errors_name_the_file(tmp_path):
    np.savez(tmp_path / "a.npz", inputs=np.ones((2, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match=r"a.npz: no array named 'x'; arrays: inputs, y"):
        data.load_npz(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", x=np.ones((3, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match="same number of rows"):
        data.load_npz(tmp_path / "b.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        data.load_npz(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        data.load_npz(tmp_path / "missing.npz")


# --- IDX -------------------------------------------------------------------------------


def _idx_bytes(type_code: int, shape: tuple, payload: bytes) -> bytes:
    """An IDX file written by hand from the format's definition (the oracle for the reader)."""
    return (
        bytes([0, 0, type_code, len(shape)])
        + b"".join(struct.pack(">I", d) for d in shape)
        + payload
    )


def test_read_idx_of_handwritten_mnist_files(tmp_path):
    pixels = bytes(range(12))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_bytes(0x08, (3, 2, 2), pixels))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(_idx_bytes(0x08, (3,), bytes([7, 0, 9])))
    )
    images = data.read_idx(tmp_path / "train-images-idx3-ubyte")
    assert images.dtype == np.uint8 and images.shape == (3, 2, 2)
    np.testing.assert_array_equal(images.ravel(), np.arange(12))
    x, y = data.load_mnist(tmp_path)
    assert x.shape == (3, 4) and x.dtype == jnp.float32 and y.tolist() == [7, 0, 9]
    np.testing.assert_allclose(x, np.arange(12).reshape(3, 4) / 255.0, rtol=1e-6)
    x, _ = data.load_idx(
        tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte.gz", scale=False
    )
    np.testing.assert_array_equal(x, np.arange(12).reshape(3, 4))
    with pytest.raises(FileNotFoundError, match="no test images"):
        data.load_mnist(tmp_path, split="test")


def test_idx_big_endian_types(tmp_path):
    path = tmp_path / "shorts.idx"
    path.write_bytes(_idx_bytes(0x0B, (2, 2), struct.pack(">4h", 1, -2, 300, -32768)))
    np.testing.assert_array_equal(data.read_idx(path), [[1, -2], [300, -32768]])
    path.write_bytes(_idx_bytes(0x0D, (2,), struct.pack(">2f", 1.5, -0.25)))
    values = data.read_idx(path)
    assert values.dtype == np.float32 and values.tolist() == [1.5, -0.25]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    data.write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = data.read_idx(path)
    assert back.dtype == dtype and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


def test_bad_idx_files_are_refused_by_name(tmp_path):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(_idx_bytes(0x08, (3, 2, 2), bytes(10)))
    with pytest.raises(
        ValueError, match=r"broken-idx3-ubyte: IDX body has 10 bytes, shape \(3, 2, 2\)"
    ):
        data.read_idx(path)
    path.write_bytes(b"\x00\x00\x08\x03\x00")
    with pytest.raises(ValueError, match="truncated IDX header"):
        data.read_idx(path)
    path.write_bytes(b"P5\n28 28\n255\n")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(path)
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ValueError, match="corrupt gzip"):
        data.read_idx(path)
    with pytest.raises(TypeError, match="IDX holds"):
        data.write_idx(tmp_path / "x.idx", np.zeros(2, np.uint32))
    images, labels = tmp_path / "i", tmp_path / "l"
    data.write_idx(images, np.zeros((3, 2), np.uint8))
    data.write_idx(labels, np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="has 3 items but .* has 2 labels"):
        data.load_idx(images, labels)
