"""voxflow's FFT resampler (voxflow.audio.pcm.resample) against soxr, in one process.

    python benchmarks/resample.py

Three figures per rate pair, for each resampler:

- passband: the gain of tones at 1, 4 and 8 kHz and at 0.9 of the lower Nyquist
  frequency, in dB (0 is exact);
- stopband: what is left of tones above the lower Nyquist frequency, in dB below the
  tone. Downsampling, they alias into the band and must go; upsampling, the question is
  the images of in-band tones above the source's Nyquist frequency, so the tones are
  in band and the energy measured is the output's above the source's Nyquist;
- speed: milliseconds to resample 60 s of audio (best of 5), and the real-time factor,
  beside the whole Opus encode of the same 60 s for scale.

- sweep (downsampling only): a chirp from the lower Nyquist frequency to the source's,
  faded in and out over 50 ms, and what is left of it after resampling, in dB: all of
  it would be alias (tests/test_audio_rates.py asserts < -80 dB on every pair).

The rates are the ones voxflow resamples (the voice's 22050 Hz to every rate a request
may ask for) and 48000 -> 22050. soxr runs at its default quality (HQ).
"""

import time
from collections.abc import Callable

import numpy as np
import soxr
from numpy.typing import NDArray

from voxflow.audio.codec import encode
from voxflow.audio.pcm import resample

Resampler = Callable[[NDArray[np.int16], int, int], NDArray[np.int16]]
# The voice's 22050 Hz to every rate a request may ask for, and one downsampling from 48 kHz.
PAIRS = [
    (22050, 48000),
    (22050, 44100),
    (22050, 24000),
    (22050, 16000),
    (22050, 8000),
    (48000, 22050),
]
AMPLITUDE = 16000
SECONDS = 60


def fft(pcm: NDArray[np.int16], src: int, dst: int) -> NDArray[np.int16]:
    return resample(pcm, src, dst)


def sox(pcm: NDArray[np.int16], src: int, dst: int) -> NDArray[np.int16]:
    out: NDArray[np.int16] = soxr.resample(pcm, src, dst)
    return out


RESAMPLERS: dict[str, Resampler] = {"voxflow fft": fft, "soxr HQ": sox}


def tone(freq: float, rate: int, seconds: float = 2.0) -> NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(AMPLITUDE * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def spectrum(pcm: NDArray[np.int16], rate: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Power per bin of the middle second (edges trimmed), Blackman-Harris windowed."""
    middle = pcm[len(pcm) // 4 : len(pcm) // 4 + rate].astype(np.float64)
    n = middle.size
    k = np.arange(n)
    window = (
        0.35875
        - 0.48829 * np.cos(2 * np.pi * k / n)
        + 0.14128 * np.cos(4 * np.pi * k / n)
        - 0.01168 * np.cos(6 * np.pi * k / n)
    )
    # Normalised so that a sine's power summed over its lobe is the same at any rate.
    power = np.abs(np.fft.rfft(middle * window)) ** 2 / (n * float(np.sum(window**2)))
    return np.fft.rfftfreq(n, 1 / rate), power


def db(ratio: float) -> float:
    return float(10 * np.log10(max(ratio, 1e-30)))


def gain_db(run: Resampler, freq: float, src: int, dst: int) -> float:
    """The tone's power after resampling against before, each at its own rate."""
    before_f, before = spectrum(tone(freq, src), src)
    after_f, after = spectrum(run(tone(freq, src), src, dst), dst)

    def near(freqs: NDArray[np.float64], power: NDArray[np.float64]) -> float:
        return float(power[np.abs(freqs - freq) <= 5].sum())

    return db(near(after_f, after) / near(before_f, before))


def stopband_db(run: Resampler, freq: float, src: int, dst: int) -> float:
    """Downsampling: the alias of an out-of-band tone against the tone. Upsampling: the
    output's energy above the source's Nyquist frequency against the in-band tone."""
    freqs, power = spectrum(run(tone(freq, src), src, dst), dst)
    _, reference = spectrum(tone(freq, src), src)
    total = float(reference.sum())
    if dst < src:
        return db(float(power.sum()) / total)
    return db(float(power[freqs > src / 2 + 20].sum()) / total)


def sweep_db(run: Resampler, src: int, dst: int) -> float:
    seconds = 2.0
    t = np.arange(int(src * seconds)) / src
    f0, f1 = dst / 2, src / 2
    fade = int(0.05 * src)
    gain = np.ones(t.size)
    gain[:fade] = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    gain[-fade:] = gain[:fade][::-1]
    chirp = gain * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds)))
    pcm = np.rint(AMPLITUDE * chirp).astype(np.int16)
    out = run(pcm, src, dst).astype(np.float64)
    return db(float(np.mean(out**2)) / float(np.mean(pcm.astype(np.float64) ** 2)))


def speed_ms(run: Resampler, src: int, dst: int) -> float:
    noise = np.random.default_rng(0).integers(-8000, 8000, SECONDS * src).astype(np.int16)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        run(noise, src, dst)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def opus_encode_ms(rate: int) -> float:
    """For scale: encoding the same 60 s as Opus at ``rate`` (resampling included)."""
    noise = np.random.default_rng(0).integers(-8000, 8000, SECONDS * 22050).astype(np.int16)
    started = time.perf_counter()
    encode(noise, 22050, "opus", output_rate=rate)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    print(f"soxr {soxr.__version__}, numpy {np.__version__}")
    for rate in (48000, 24000):
        print(f"encode(): {SECONDS} s at 22050 Hz to Opus at {rate}: {opus_encode_ms(rate):.0f} ms")
    for src, dst in PAIRS:
        nyquist = min(src, dst) / 2
        print(f"\n{src} -> {dst} Hz (lower Nyquist {nyquist:.0f} Hz)")
        passband = [f for f in (1000.0, 4000.0, 8000.0) if f < 0.9 * nyquist] + [0.9 * nyquist]
        if dst < src:  # out of band at the output rate: must not alias into it
            stop_tones = [f for f in (1.05, 1.2, 1.5) if f * nyquist < 0.99 * src / 2]
            stop_tones = [f * nyquist for f in stop_tones]
            stop_label = "alias of a tone at"
        else:  # in band: its images above the source's Nyquist must not appear
            stop_tones = [4000.0, 0.9 * nyquist, 0.98 * nyquist]
            stop_label = "images above source Nyquist, tone at"
        for name, run in RESAMPLERS.items():
            gains = ", ".join(f"{f / 1000:.2f}k {gain_db(run, f, src, dst):+.3f}" for f in passband)
            stops = ", ".join(
                f"{f / 1000:.2f}k {stopband_db(run, f, src, dst):.1f}" for f in stop_tones
            )
            ms = speed_ms(run, src, dst)
            print(f"  {name:12} passband dB: {gains}")
            print(f"  {name:12} {stop_label} (dB): {stops}")
            if dst < src:
                print(f"  {name:12} sweep above the new Nyquist: {sweep_db(run, src, dst):.1f} dB")
            print(
                f"  {name:12} {SECONDS} s of audio: {ms:.1f} ms "
                f"({SECONDS * 1000 / ms:.0f}x real time)"
            )


if __name__ == "__main__":
    main()
