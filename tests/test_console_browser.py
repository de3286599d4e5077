"""The web console in a real browser: Debian's Chromium driven by selenium through
Debian's chromedriver, against the HTTP API served over moto server with the real voice
(tests/api_harness.py), its regions those of a primary whose health the test sets.

Chromium is part of what `make test` needs (.ci/run installs it): where /usr/bin/chromium
or /usr/bin/chromedriver is missing, every test here fails and says how to install them.
VOXFLOW_NO_BROWSER=1 skips them instead, with that reason, on a machine that cannot have
a browser; it is a switch of this test module only, not a service setting.

A screenshot of the console after a round trip is left in build/test-artifacts/.
"""

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_harness import ApiHarness, start_api
from selenium import webdriver
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from voxflow.audio import decode
from voxflow.aws import AwsClients, AwsSettings
from voxflow.config.choices import Role
from voxflow.engine import Engine
from voxflow.regions import RegionConfig, Regions, StaticHealth
from voxflow_local import ports
from voxflow_local.console_site import ConsoleSite
from voxflow_local.moto_server import MotoServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
PRIMARY, SECONDARY = "us-east-1", "us-west-2"
WATCHED_QUEUES = ("requests", "chunks", "chunks-dlq")
WAIT_S = 60  # a miss is synthesized in the request, on two shared cores
# The console's static site: an origin of its own. Its port is held from collection
# until the test serves the site on it (voxflow_local.ports), not merely probed.
SITE_HELD = ports.reserve()
SITE_PORT = ports.port_of(SITE_HELD)


@pytest.fixture(scope="module")
def health() -> StaticHealth:
    return StaticHealth(True)


@pytest.fixture(scope="module")
def api(engine: Engine, health: StaticHealth) -> Iterator[ApiHarness]:
    with MotoServer() as moto:
        sqs = AwsClients(AwsSettings.local(moto.url)).sqs
        watched = {
            label: sqs.create_queue(QueueName=f"console-{label}")["QueueUrl"]
            for label in WATCHED_QUEUES
        }
        # The console's static site is served from its own port (its own origin), which
        # the API answers CORS for, as API Gateway does for the CloudFront site.
        harness = start_api(
            moto.url,
            engine.registry,
            engine,
            watched,
            cors_origins=(f"http://127.0.0.1:{SITE_PORT}",),
        )
        harness.pipeline.regions = Regions(
            config=RegionConfig(
                role=Role.PRIMARY,
                region=PRIMARY,
                primary_region=PRIMARY,
                secondary_region=SECONDARY,
                health_alarm="voxflow-primary-health",
                requests_queue_url="http://127.0.0.1:1/requests",
            ),
            health=health,
        )
        try:
            yield harness
        finally:
            harness.server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chrome]:
    if os.environ.get("VOXFLOW_NO_BROWSER") == "1":
        pytest.skip("VOXFLOW_NO_BROWSER=1: the console's browser tests are off")
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: `apt-get install -y chromium chromium-driver` "
            "(Debian), or VOXFLOW_NO_BROWSER=1 to skip the console's browser tests",
            pytrace=False,
        )
    profile = tempfile.mkdtemp(prefix="voxflow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver: Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def console(browser: Chrome, api: ApiHarness) -> Chrome:
    """The console, opened and given a key, its regions and voices loaded."""
    key, _ = api.keys.create("console")
    browser.get(f"{api.url}/console")
    browser.find_element(By.ID, "api-key").send_keys(key)
    browser.find_element(By.ID, "key-use").click()
    wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#regions .region")) == 2)
    wait(browser, lambda b: len(Select(b.find_element(By.ID, "speak-voice")).options) > 1)
    return browser


def wait(browser: Chrome, condition: Any, timeout_s: float = WAIT_S) -> Any:
    return WebDriverWait(browser, timeout_s, poll_frequency=0.2).until(condition)


def errors_logged(browser: Chrome) -> list[str]:
    entries: list[dict[str, str]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]


def region_cards(browser: Chrome) -> dict[str, dict[str, str]]:
    # Read in one script: the page redraws the cards on every refresh.
    cards = browser.execute_script(
        "return Array.from(document.querySelectorAll('#regions .region'), c =>"
        " [c.dataset.region, c.dataset.health, c.dataset.serving, c.textContent]);"
    )
    return {
        region: {"health": health, "serving": serving, "text": text}
        for region, health, serving, text in cards
    }


def latest_row(browser: Chrome) -> list[str]:
    """The cells of the newest row of the recent requests table: time, voice, format,
    status, cache, latency, bytes, audio."""
    row = browser.find_elements(By.CSS_SELECTOR, "#recent tbody tr")[0]
    return [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]


def speak(browser: Chrome, text: str, fmt: str, speed: str = "1.0") -> None:
    box = browser.find_element(By.ID, "speak-text")
    box.clear()
    box.send_keys(text)
    Select(browser.find_element(By.ID, "speak-format")).select_by_value(fmt)
    field = browser.find_element(By.ID, "speak-speed")
    field.clear()
    field.send_keys(speed)
    rows_before = len(browser.find_elements(By.CSS_SELECTOR, "#recent tbody tr"))
    browser.find_element(By.ID, "speak-submit").click()
    wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#recent tbody tr")) > rows_before)


def played_audio(browser: Chrome) -> tuple[float, bytes]:
    """The <audio> element's duration once loaded, and the bytes its source holds."""
    duration = wait(
        browser,
        lambda b: b.execute_script(
            "const a = document.getElementById('speak-audio');"
            "return a.readyState >= 1 && a.duration > 0 ? a.duration : null;"
        ),
    )
    encoded = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('speak-audio').src).then(r => r.arrayBuffer())"
        ".then(b => { let s = ''; new Uint8Array(b).forEach(x => s += String.fromCharCode(x));"
        " done(btoa(s)); }, e => done('failed: ' + e));"
    )
    assert not encoded.startswith("failed"), encoded
    return float(duration), base64.b64decode(encoded)


def test_the_console_loads_clean_and_shows_both_regions_and_the_voices(
    console: Chrome,
) -> None:
    cards = region_cards(console)
    assert cards[PRIMARY]["health"] == "healthy"
    assert cards[PRIMARY]["serving"] == "true"
    assert cards[SECONDARY]["serving"] == "false"
    assert "standing by" in cards[SECONDARY]["text"]
    voices = [
        o.get_attribute("value") for o in Select(console.find_element(By.ID, "speak-voice")).options
    ]
    assert "joe" in voices
    assert "alloy" in voices
    listed = [li.text for li in console.find_elements(By.CSS_SELECTOR, "#voices li")]
    assert listed == voices
    assert errors_logged(console) == []


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_a_spoken_request_plays_in_the_audio_element(console: Chrome, fmt: str) -> None:
    Select(console.find_element(By.ID, "speak-voice")).select_by_value("joe")
    speak(console, f"The console speaks {fmt} through the browser.", fmt)
    duration, audio = played_audio(console)
    pcm, rate = decode(audio)
    # The browser's duration is the audio's: an MP3 decoder may add a frame of padding.
    assert duration == pytest.approx(len(pcm) / rate, abs=0.001 if fmt == "wav" else 0.06)
    assert duration > 1.0
    row = latest_row(console)
    assert row[1:5] == ["joe", fmt, "200", "miss"], row
    assert int(row[6]) == len(audio)
    assert not console.find_element(By.ID, "speak-error").is_displayed()
    # The same request again is a cache hit, and the page says so.
    console.find_element(By.ID, "speak-submit").click()
    wait(console, lambda b: latest_row(b)[4] == "hit")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert console.save_screenshot(str(ARTIFACTS / f"console-{fmt}.png"))


@pytest.mark.parametrize(
    ("text", "speed", "shown"),
    [
        ("Too fast to follow.", "9", "400 invalid_request_error (speed): speed must be a number"),
        ("", "1.0", "400 invalid_request_error (input): input is required"),
    ],
)
def test_invalid_input_shows_the_apis_typed_error(
    console: Chrome, text: str, speed: str, shown: str
) -> None:
    speak(console, text, "mp3", speed)
    error = wait(console, lambda b: b.find_element(By.ID, "speak-error").text or None)
    assert error.startswith(shown), error
    assert latest_row(console)[3] == "400"
    # Its only trace in the log is the refused fetch itself.
    assert all("400" in message for message in errors_logged(console))


def test_the_regions_follow_the_health_alarm_live(console: Chrome, health: StaticHealth) -> None:
    health.healthy = False
    try:
        wait(console, lambda b: region_cards(b)[SECONDARY]["serving"] == "true", 15)
        cards = region_cards(console)
        assert cards[PRIMARY]["health"] == "unhealthy"
        assert cards[PRIMARY]["serving"] == "false"
    finally:
        health.healthy = True
    wait(console, lambda b: region_cards(b)[PRIMARY]["serving"] == "true", 15)


def test_markup_in_what_the_page_shows_is_text_not_code(console: Chrome) -> None:
    # The recent requests table shows the request's voice as sent: a crafted one (an
    # option rewritten in the page) is refused by the API and shown as text; nothing runs.
    markup = '"><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    console.execute_script(
        "const option = document.getElementById('speak-voice').options[0];"
        "option.value = arguments[0]; option.selected = true;",
        markup,
    )
    speak(console, "<script>window.pwned=3</script>", "mp3")
    wait(console, lambda b: b.find_element(By.ID, "speak-error").text or None)
    assert latest_row(console)[1:4] == [markup, "mp3", "400"]
    assert console.execute_script("return window.pwned === undefined;") is True
    assert console.find_elements(By.CSS_SELECTOR, "#recent img, #recent script") == []
    console.refresh()  # the page back as served, for the tests after this one
    wait(console, lambda b: len(Select(b.find_element(By.ID, "speak-voice")).options) > 1)


def spoken_words(browser: Chrome) -> list[tuple[str, int]]:
    words = browser.execute_script(
        "return Array.from(document.querySelectorAll('#speak-words .word'),"
        " w => [w.textContent, Number(w.dataset.time)]);"
    )
    return [(text, int(time)) for text, time in words]


def highlighted_at(browser: Chrome, seconds: float) -> str | None:
    """The word the page highlights once the audio is at ``seconds`` and says so."""
    return browser.execute_script(  # type: ignore[no-any-return]
        "const a = document.getElementById('speak-audio'); a.pause();"
        "a.currentTime = arguments[0]; a.dispatchEvent(new Event('timeupdate'));"
        "const w = document.querySelector('#speak-words .word.current');"
        "return w ? w.textContent : null;",
        seconds,
    )


def test_words_highlight_from_the_speech_marks_as_the_audio_plays(console: Chrome) -> None:
    errors_logged(console)  # the log so far: the refused requests of the tests before
    Select(console.find_element(By.ID, "speak-voice")).select_by_value("joe")
    speak(console, "Seven quick voices follow every spoken word", "wav")
    duration, _ = played_audio(console)
    words = wait(console, lambda b: spoken_words(b) or None)
    assert [text for text, _ in words] == [
        "Seven",
        "quick",
        "voices",
        "follow",
        "every",
        "spoken",
        "word",
    ]
    times = [time for _, time in words]
    assert times == sorted(set(times)), times
    assert times[-1] < duration * 1000
    # The highlighted word advances with the audio's time: at each mark, that word.
    for text, time in words:
        assert highlighted_at(console, time / 1000 + 0.005) == text
    # Halfway between two marks it is still the earlier one.
    (first, t0), (_, t1) = words[0], words[1]
    assert highlighted_at(console, (t0 + t1) / 2000) == first
    # The service's timings of a miss: where the time went, shown with the request.
    timings = latest_row(console)[8]
    assert all(part in timings for part in ("lookup", "synthesize", "store", "total")), timings
    assert errors_logged(console) == []


def test_ssml_is_spoken_as_ssml_with_its_words_marked(console: Chrome) -> None:
    Select(console.find_element(By.ID, "speak-voice")).select_by_value("joe")
    ssml = console.find_element(By.ID, "speak-ssml")
    ssml.click()
    try:
        speak(console, '<speak>Markup spoken <break time="400ms"/> not read aloud</speak>', "mp3")
        assert latest_row(console)[3:5] == ["200", "miss"], console.find_element(
            By.ID, "speak-error"
        ).text
        played_audio(console)
        words = wait(console, lambda b: spoken_words(b) or None)
        assert [text for text, _ in words] == ["Markup", "spoken", "not", "read", "aloud"]
        # The break is heard: at least its length between "spoken" and "not".
        assert words[2][1] - words[1][1] >= 400, words
        # The same request again is a hit, audio and marks, and its timings say so.
        console.find_element(By.ID, "speak-submit").click()
        wait(console, lambda b: latest_row(b)[4] == "hit")
        timings = latest_row(console)[8]
        assert "lookup" in timings
        assert "total" in timings
        assert "synthesize" not in timings
        assert wait(console, lambda b: spoken_words(b) or None) == words
    finally:
        ssml.click()


def queue_rows(browser: Chrome) -> dict[str, list[str]]:
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#queues tbody tr'), r =>"
        " [r.dataset.queue, r.className, ...Array.from(r.cells, c => c.textContent)]);"
    )
    return {row[0]: row[1:] for row in rows}


def oldest_s(browser: Chrome, queue: str) -> float:
    seconds = browser.execute_script(
        "const c = document.querySelector(`#queues tr[data-queue='${arguments[0]}'] td.age`);"
        "return c ? c.dataset.seconds : null;",
        queue,
    )
    return float(seconds) if seconds not in (None, "null") else -1.0


def test_the_queues_and_dlqs_depths_follow_sqs_live(console: Chrome, api: ApiHarness) -> None:
    # Every queue's age of the oldest message, once the moto server has published it
    # (every few seconds, from the queues' messages: voxflow_local.sqs_metrics).
    rows = wait(
        console,
        lambda b: (all(r[-1] != "none" for r in queue_rows(b).values()) and queue_rows(b)) or None,
    )
    assert list(rows) == list(WATCHED_QUEUES)
    assert rows["requests"] == ["", "requests", "0", "0", "0", "0 s"]
    assert rows["chunks-dlq"] == ["", "chunks-dlq (DLQ)", "0", "0", "0", "0 s"]
    sqs = api.clients.sqs
    url = {label: sqs.get_queue_url(QueueName=f"console-{label}")["QueueUrl"] for label in rows}
    for _ in range(3):
        sqs.send_message(QueueUrl=url["requests"], MessageBody="{}")
    sqs.send_message(QueueUrl=url["chunks"], MessageBody="{}", DelaySeconds=600)
    sqs.send_message(QueueUrl=url["chunks-dlq"], MessageBody="{}")
    # Within a refresh or two (5 s each): three waiting, one delayed, the DLQ flagged.
    wait(console, lambda b: queue_rows(b)["requests"][2] == "3", 15)
    rows = queue_rows(console)
    assert rows["chunks"][2:5] == ["0", "0", "1"]
    assert rows["chunks-dlq"][:5] == ["dlq-not-empty", "chunks-dlq (DLQ)", "1", "0", "0"]
    # The waiting messages age; the delayed one is not counted until it can be received.
    wait(console, lambda b: oldest_s(b, "requests") >= 1, 30)
    assert oldest_s(console, "chunks") == 0
    # A message being worked on counts as in flight, not waiting.
    sqs.receive_message(QueueUrl=url["requests"], MaxNumberOfMessages=1, VisibilityTimeout=600)
    wait(console, lambda b: queue_rows(b)["requests"][2:4] == ["2", "1"], 15)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert console.save_screenshot(str(ARTIFACTS / "console-queues.png"))
    assert errors_logged(console) == []


def test_the_cache_hit_ratio_is_the_deployments_from_cloudwatch(
    console: Chrome, api: ApiHarness
) -> None:
    # The requests above (a miss and a hit each for wav, mp3 and SSML, a miss for the
    # words) reached CloudWatch as the functions' EMF; the panel shows their sums.
    wait(console, lambda b: b.find_element(By.ID, "cache-panel").is_displayed() or None, 15)
    end = datetime.now(UTC) + timedelta(minutes=1)

    def summed(name: str) -> int:
        points = api.clients.cloudwatch.get_metric_statistics(
            Namespace="voxflow",
            MetricName=name,
            Dimensions=[{"Name": "service", "Value": "voxflow"}],
            StartTime=end - timedelta(hours=1),
            EndTime=end,
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        return int(sum(point["Sum"] for point in points))

    hits, misses = summed("ApiCacheHits"), summed("ApiCacheMisses")
    assert hits >= 3, hits
    assert misses >= 4, misses
    expected = f"{hits} hits, {misses} misses in the last 60 min"
    wait(console, lambda b: b.find_element(By.ID, "cache-counts").text == expected, 15)
    shown = console.find_element(By.ID, "cache-ratio").text
    assert shown == f"{100 * hits / (hits + misses):.1f} %"


def test_nothing_overflows_its_panel_at_1280_px(console: Chrome) -> None:
    # The recent requests hold rows with their server timings (the tests above).
    assert console.execute_script("return window.innerWidth;") <= 1280
    assert len(console.find_elements(By.CSS_SELECTOR, "#recent tbody tr")) >= 3
    overflowing = console.execute_script(
        "return Array.from(document.querySelectorAll('main > section:not([hidden]), html'),"
        " e => [e.id || e.tagName, e.scrollWidth, e.clientWidth])"
        ".filter(([, scroll, client]) => scroll > client);"
    )
    assert overflowing == []
    # The whole page, for docs/console.png: as wide, taller.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = console.get_window_size()
    console.set_window_size(size["width"], 1400)
    try:
        assert console.save_screenshot(str(ARTIFACTS / "console.png"))
    finally:
        console.set_window_size(size["width"], size["height"])


def open_with_key(browser: Chrome, url: str, key: str) -> None:
    browser.get(url)
    browser.find_element(By.ID, "api-key").send_keys(key)
    browser.find_element(By.ID, "key-use").click()


def test_the_static_site_calls_the_api_across_origins(console: Chrome, api: ApiHarness) -> None:
    # The same files from another origin (as CloudFront serves the ConsoleBucket): the
    # page reads its config, and every call is cross-origin, answered with CORS.
    key, _ = api.keys.create("console-site")
    SITE_HELD.close()
    with ConsoleSite(api.url, SITE_PORT) as site:
        assert site.origin != api.url  # another port: another origin
        errors_logged(console)
        open_with_key(console, f"{site.url}/", key)
        wait(console, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#regions .region")) == 2)
        wait(console, lambda b: len(Select(b.find_element(By.ID, "speak-voice")).options) > 1)
        Select(console.find_element(By.ID, "speak-voice")).select_by_value("joe")
        speak(console, "Spoken for a page of another origin.", "wav")
        duration, audio = played_audio(console)
        pcm, rate = decode(audio)
        assert duration == pytest.approx(len(pcm) / rate, abs=0.001)
        row = latest_row(console)
        # The exposed headers are readable across origins: the cache result, the timings.
        assert row[1:5] == ["joe", "wav", "200", "miss"], row
        assert "total" in row[8], row
        wait(console, lambda b: b.find_element(By.ID, "cache-panel").is_displayed() or None, 15)
        assert errors_logged(console) == []
    # The same site on an origin the API does not name: the browser refuses the answers.
    with ConsoleSite(api.url) as stranger:
        open_with_key(console, f"{stranger.url}/", key)
        error = wait(console, lambda b: b.find_element(By.ID, "health-error").text or None, 15)
        assert "Failed to fetch" in error, error
        assert any("CORS" in message for message in errors_logged(console))
    # Back to the console on the API, for nothing after this to depend on the order.
    open_with_key(console, f"{api.url}/console", key)
    wait(console, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#regions .region")) == 2)
