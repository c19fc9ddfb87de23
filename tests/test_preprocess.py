import cv2
import numpy as np
import pytest

from edgeclf.edge.images import decode_image, to_uint8
from edgeclf.edge.recipes.fashion_mnist import preprocess
from edgeclf.edge.runtime.classifier import FASHION_MODEL, Classifier

from photos import VARIANTS, make_variant


def test_dataset_crops_pass_through_unchanged(test_split):
    for image in test_split.images[:300]:
        assert np.array_equal(preprocess(image), image)


def test_output_is_28x28_uint8_light_on_black(test_split):
    photo = make_variant(test_split.images[0], "colour_jpeg", np.random.default_rng(0))
    view = preprocess(photo)
    assert view.shape == (28, 28) and view.dtype == np.uint8
    assert view[0].mean() < 20 and view[:, 0].mean() < 20  # black border
    assert view.max() > 150  # a light garment


@pytest.mark.parametrize("variant", VARIANTS)
def test_photo_variants_recover_the_class(test_split, variant):
    """The recipe turns photo-like versions of test images back into what the model knows."""
    rng = np.random.default_rng(7)
    clf = Classifier(FASHION_MODEL)
    images, labels = test_split.images[:400], test_split.labels[:400]
    views = []
    for image in images:
        photo = make_variant(image, variant, rng)
        if variant == "colour_jpeg":  # through real JPEG bytes
            ok, data = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 85])
            photo = decode_image(data.tobytes())
        views.append(preprocess(photo))
    accuracy = (clf.predict(np.stack(views), batch_size=100).argmax(1) == labels).mean()
    baseline = (clf.predict(images, batch_size=100).argmax(1) == labels).mean()
    assert accuracy >= baseline - 0.12, (variant, accuracy, baseline)
    assert accuracy >= 0.80


def test_depths_and_alpha_are_normalised(test_split):
    garment = 255 - cv2.resize(test_split.images[1], (112, 112))
    sixteen = garment.astype(np.uint16) * 257
    assert np.array_equal(to_uint8(sixteen), garment)
    bgra = np.zeros((112, 112, 4), np.uint8)
    bgra[..., :3] = garment[..., None]
    bgra[..., 3] = np.where(garment < 200, 255, 0)  # transparent around the garment
    flat = to_uint8(bgra)
    assert flat.shape == (112, 112, 3) and flat[0, 0].tolist() == [255, 255, 255]
    assert preprocess(flat).shape == (28, 28)


def test_dark_background_photo(test_split):
    clf = Classifier(FASHION_MODEL)
    image = test_split.images[2]
    big = cv2.resize(
        image, (200, 120), interpolation=cv2.INTER_CUBIC
    )  # light garment on black, wide
    canvas = np.full((300, 400), 18, np.uint8)
    canvas[90:210, 100:300] = np.maximum(canvas[90:210, 100:300], big)
    assert clf.predict(preprocess(canvas)).argmax() == clf.predict(image).argmax()


def test_blank_and_tiny_images_do_not_crash():
    for image in (
        np.full((50, 80), 200, np.uint8),
        np.zeros((1, 1), np.uint8),
        np.full((3, 500, 3), 9, np.uint8),
    ):
        assert preprocess(image).shape == (28, 28)
