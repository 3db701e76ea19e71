"""The report site: pages from stored results, explorers whose values are measured.

Browser tests drive Debian's chromium through selenium (chromedriver from the
chromium-driver package); they are skipped, with the reason in the summary, when no
chromium is installed. ``.ci/run`` installs it.
"""

import io
import json
import re
import shutil
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gdlab
from gdlab.report import _explorers, _pages

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.xdist_group("report")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site built from a copy of the committed results, with quick explorers."""
    source = tmp_path_factory.mktemp("results")
    for name in ("weight_update", "learning_rate"):
        shutil.copytree(ROOT / "results" / name, source / name)
    (source / "broken").mkdir()
    return gdlab.report.build(source=source, quick=True)


def _data(site, kind):
    text = (site / "data" / f"{kind}.js").read_text()
    return json.loads(text.split(f"window.GDLAB_DATA.{kind} = ", 1)[1].rstrip().rstrip(";"))


def test_pages_show_each_stored_claim(site):
    stored = json.loads((ROOT / "results" / "weight_update" / "result.json").read_text())
    page = (site / "weight_update.html").read_text()
    for claim in stored["claims"]:
        assert _pages.e(claim["statement"]) in page
    assert "gdlab run weight_update" in page
    index = (site / "index.html").read_text()
    for kind in _pages.EXPLORERS:
        assert f'href="explore_{kind}.html"' in index


def test_site_is_self_contained(site):
    """Every src/href of our pages is a relative file that exists: no CDN, no network."""
    for page in site.glob("*.html"):
        for ref in re.findall(r'(?:src|href)="([^"#]+)', page.read_text()):
            assert "://" not in ref, (page.name, ref)
            assert (site / ref).is_file(), (page.name, ref)


def test_encoding_round_trip_matches_numpy_float16():
    values = np.array([1.0, -2.5e-3, 7e4, np.nan, 3.14159])
    back = _explorers.decode(_explorers.encode(values))
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16).astype(np.float64)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(expected))
    np.testing.assert_array_equal(back[~np.isnan(back)], expected[~np.isnan(expected)])
    assert back[2] == np.inf  # beyond float16's range


def test_paths_equal_a_separate_run(site):
    """The stored path of one setting is an independent train.run of that setting."""
    data = _data(site, "paths")
    rates = data["rates"]
    entry = data["problems"]["rosenbrock"]["runs"]["momentum"]
    i, j = 2, data["optimizers"]["momentum"]["betas"].index(0.9)
    stored = _explorers.decode(entry["path"])[i, j]
    p = gdlab.problems.get("rosenbrock")
    traj = gdlab.train.run(p.loss, jnp.asarray(p.x0, jnp.float32),
                           gdlab.optimizers.make("momentum", learning_rate=rates[i],
                                                 momentum=0.9), data["num_steps"],
                           record_params=True)
    np.testing.assert_allclose(stored, np.asarray(traj.params), rtol=2e-3, atol=2e-3)


def test_neuron_errors_follow_the_closed_form(site):
    """error_t = (1 − α·x²)^(2t) · (x·w₀ − goal)²: the explorer shows the measured runs."""
    data = _data(site, "neuron")
    stored = _explorers.decode(data["log10_error"]).astype(np.float64)  # float32 log10
    t = np.arange(data["num_steps"] + 1)
    for i, x in enumerate(data["inputs"]):
        for g, goal in enumerate(data["goals"]):
            for a, alpha in enumerate(data["alphas"]):
                theory = (1 - alpha * x * x) ** (2 * t) * (x * data["w0"] - goal) ** 2
                # where |pred − goal| ≫ its float64 rounding (1e-16·|goal|): a smaller
                # error is rounding noise, and the run may even land on 0 exactly
                ok = (theory > 1e-16) & (theory < 1e250)
                log = np.log10(theory[ok])
                # float32 storage of log10 (half an ulp) and the run's float64 rounding
                np.testing.assert_allclose(stored[i, g, a][ok], log, atol=1e-6, rtol=2.0**-23)


def test_depth_norms_equal_the_gradient_of_a_plain_mlp(site):
    """The masked deepest network gives the gradients of an MLP of exactly that depth."""
    data = _data(site, "depth")
    depth = data["depths"][1]

    @jax.jit  # one program: run eagerly, the inits and the gradient were ~30 compilations
    def layer_norms():
        width, key_x, key_y, key_w = 32, *jax.random.split(jax.random.key(0), 3)
        x = jax.random.normal(key_x, (256, width), jnp.float32)
        y = jax.random.normal(key_y, (256, 1), jnp.float32)
        deep = gdlab.models.mlp([width] * max(data["depths"]) + [1], init="he",
                                dtype=jnp.float32).init(key_w)
        params = [*deep[: depth - 1], deep[-1]]  # its first depth − 1 layers and the output
        model = gdlab.models.mlp([width] * depth + [1], activation="relu", dtype=jnp.float32)
        g = jax.grad(lambda p: 0.5 * jnp.mean((model.apply(p, x) - y) ** 2))(params)
        return [jnp.linalg.norm(layer["w"]) for layer in g]

    expected = [float(v) for v in layer_norms()]
    np.testing.assert_allclose(data["norms"][f"relu/he/{depth}"], expected, rtol=1e-4)


def test_taylor_actual_change_is_the_loss_difference(site):
    data = _data(site, "taylor")
    eps = np.asarray(data["epsilon"])
    first, second = np.asarray(data["first_order"]), np.asarray(data["second_order"])
    # −εgᵀg and −εgᵀg + ½ε²gᵀHg from the stored gᵀg, gᵀHg
    np.testing.assert_allclose(first, -eps * data["gTg"], rtol=1e-12)
    np.testing.assert_allclose(second, first + 0.5 * eps**2 * data["gTHg"], rtol=1e-12)
    assert data["epsilon_star"] == pytest.approx(data["gTg"] / data["gTHg"], rel=1e-12)
    small = eps < 0.05 * data["epsilon_star"]  # second order is exact to O(ε³) there
    np.testing.assert_allclose(np.asarray(data["actual"])[small], second[small], rtol=1e-3)


# ----------------------------------------------------------------------------- browser

needs_browser = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                   reason="no chromium/chromedriver: browser tests skipped "
                                          "(apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1400",
                "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, path):
    browser.get(path.as_uri())
    for _ in range(50):  # up to 5 s for plotly to draw
        if browser.execute_script("return document.readyState") == "complete":
            break
        time.sleep(0.1)
    time.sleep(0.3)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    missing = browser.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.src)")
    assert not missing, missing


def _not_blank(browser):
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("L"))
    return image.std() > 5


@needs_browser
def test_every_page_loads_without_errors(site, browser):
    for page in sorted(site.glob("*.html")):
        _open(browser, page)
        assert _not_blank(browser), page.name


@needs_browser
@pytest.mark.parametrize("kind", list(_pages.EXPLORERS))
def test_explorers_render(site, browser, kind):
    _open(browser, site / f"explore_{kind}.html")
    traces = browser.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".map(d => d.data.length)")
    assert traces and all(n > 0 for n in traces)
    assert _not_blank(browser)


@needs_browser
def test_moving_the_rate_slider_redraws_the_stored_path(site, browser):
    data = _data(site, "paths")
    _open(browser, site / "explore_paths.html")

    def drawn():
        return browser.execute_script(
            "const d = document.getElementById('path-plot').data[1]; return [d.x, d.y];")

    before = drawn()
    browser.execute_script("""
        const s = document.getElementById('rate'); s.value = 1;
        s.dispatchEvent(new Event('input'));""")
    after = drawn()
    assert after != before
    state = browser.execute_script("return window.gdlabExplorer.state")
    stored = _explorers.decode(
        data["problems"][state["problem"]]["runs"][state["optimizer"]]["path"])
    expected = stored[state["rate"], state["beta"]]
    np.testing.assert_array_equal(np.asarray(after, dtype=float).T, expected)
