//! Sample-level audio: reading WAVs of any PCM shape into one format, resampling, loudness,
//! tones and writing WAVs. Everything a whisper is made of passes through here, so every clip
//! ends up 16-bit mono at the switch's rate with the same loudness and no clicks at its edges.

use std::f64::consts::PI;
use std::io::Cursor;

use super::WhisperError;

/// Loudness every clip is brought to (RMS, relative to full scale): -20 dBFS.
const TARGET_RMS: f64 = 0.1;
/// No sample louder than -1 dBFS after normalising.
const PEAK_LIMIT: f64 = 0.89;
/// Sample rates a clip may have (a WAV header can claim anything, 0 Hz included).
const MIN_RATE: u32 = 4000;
const MAX_RATE: u32 = 192_000;
/// Longest clip accepted: a phrase is a second or two, not a song.
const MAX_CLIP_SECONDS: u32 = 30;
/// Fade at each clip edge, so joins never click.
const FADE_MS: u32 = 5;

/// Reads a WAV (8/16/24/32-bit integer or 32-bit float, any channel count) as mono samples in
/// -1.0..=1.0, with its rate.
pub fn read_wav(bytes: &[u8]) -> Result<(Vec<f64>, u32), WhisperError> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes))?;
    let spec = reader.spec();
    if !(MIN_RATE..=MAX_RATE).contains(&spec.sample_rate) {
        return Err(WhisperError::Rate(spec.sample_rate));
    }
    if reader.duration() as u64 > MAX_CLIP_SECONDS as u64 * spec.sample_rate as u64 {
        return Err(WhisperError::ClipTooLong {
            limit_secs: MAX_CLIP_SECONDS,
        });
    }
    let channels = spec.channels.max(1) as usize;
    let interleaved: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(f64::from))
            .collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f64;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f64 / scale))
                .collect::<Result<_, _>>()?
        }
    };
    let mono = interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f64>() / channels as f64)
        .collect();
    Ok((mono, spec.sample_rate))
}

/// Resamples with a windowed-sinc (Lanczos, 8 lobes) filter whose cutoff follows the lower of the
/// two rates, so going down does not alias and going up does not image.
pub fn resample(input: &[f64], from: u32, to: u32) -> Vec<f64> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    const LOBES: f64 = 8.0;
    let ratio = to as f64 / from as f64;
    let cutoff = ratio.min(1.0);
    let half_width = LOBES / cutoff;
    let out_len = ((input.len() as f64) * ratio).round() as usize;
    let sinc = |x: f64| {
        if x.abs() < 1e-12 {
            1.0
        } else {
            (PI * x).sin() / (PI * x)
        }
    };
    (0..out_len)
        .map(|i| {
            let centre = i as f64 / ratio;
            let first = (centre - half_width).ceil().max(0.0) as usize;
            let last = ((centre + half_width).floor() as usize).min(input.len() - 1);
            let mut acc = 0.0;
            let mut norm = 0.0;
            for (j, sample) in input.iter().enumerate().take(last + 1).skip(first) {
                let x = (j as f64 - centre) * cutoff;
                let w = sinc(x) * sinc(x / LOBES);
                acc += sample * w;
                norm += w;
            }
            if norm.abs() > 1e-9 { acc / norm } else { 0.0 }
        })
        .collect()
}

/// Brings a clip to the target loudness (never past the peak limit), fades its edges and turns it
/// into 16-bit samples.
pub fn normalise(samples: &[f64], rate: u32) -> Vec<i16> {
    let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    let peak = samples.iter().fold(0.0f64, |m, s| m.max(s.abs()));
    let gain = if rms > 1e-6 {
        (TARGET_RMS / rms).min(PEAK_LIMIT / peak.max(1e-9))
    } else {
        1.0
    };
    let fade = (rate * FADE_MS / 1000) as usize;
    let n = samples.len();
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let edge = i.min(n - 1 - i);
            let ramp = if edge < fade {
                edge as f64 / fade as f64
            } else {
                1.0
            };
            to_i16(s * gain * ramp)
        })
        .collect()
}

fn to_i16(s: f64) -> i16 {
    (s.clamp(-1.0, 1.0) * i16::MAX as f64).round() as i16
}

/// A sine tone at `freq` Hz for `ms` milliseconds at -6 dBFS, with faded edges. It starts a
/// quarter period in, so no sample sits exactly on zero.
pub fn tone(freq: f64, ms: u32, rate: u32) -> Vec<i16> {
    let n = (rate as u64 * ms as u64 / 1000) as usize;
    let fade = (rate * FADE_MS / 1000) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let edge = i.min(n - 1 - i);
            let ramp = if edge < fade {
                (edge + 1) as f64 / (fade + 1) as f64
            } else {
                1.0
            };
            to_i16(0.5 * ramp * (2.0 * PI * freq * t + PI / 4.0).sin())
        })
        .collect()
}

/// `ms` milliseconds of silence.
pub fn silence(ms: u32, rate: u32) -> usize {
    (rate as u64 * ms as u64 / 1000) as usize
}

/// Writes 16-bit mono PCM as a WAV file in memory.
pub fn wav_bytes(samples: &[i16], rate: u32) -> Result<Vec<u8>, WhisperError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    let mut writer = hound::WavWriter::new(&mut out, spec)?;
    let mut w16 = writer.get_i16_writer(samples.len() as u32);
    for &s in samples {
        w16.write_sample(s);
    }
    w16.flush()?;
    writer.finalize()?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frequency from zero crossings: two crossings per period.
    pub fn zero_crossing_freq(samples: &[i16], rate: u32) -> f64 {
        let crossings = samples
            .windows(2)
            .filter(|w| (w[0] >= 0) != (w[1] >= 0))
            .count();
        crossings as f64 / 2.0 / (samples.len() as f64 / rate as f64)
    }

    #[test]
    fn tone_frequency_within_one_percent() {
        for (freq, rate) in [(1000.0, 8000), (440.0, 8000), (1400.0, 16000)] {
            let t = tone(freq, 300, rate);
            let measured = zero_crossing_freq(&t, rate);
            assert!(
                (measured - freq).abs() / freq < 0.01,
                "{freq} Hz at {rate}: {measured}"
            );
        }
    }

    #[test]
    fn resampling_keeps_a_tone_and_its_length() {
        let rate = 8000;
        let src: Vec<f64> = (0..8000)
            .map(|i| (2.0 * PI * 500.0 * i as f64 / rate as f64 + 0.3).sin() * 0.5)
            .collect();
        let up = resample(&src, 8000, 16000);
        assert_eq!(up.len(), 16000);
        let up16: Vec<i16> = up.iter().map(|&s| to_i16(s)).collect();
        let f = zero_crossing_freq(&up16, 16000);
        assert!((f - 500.0).abs() < 5.0, "{f}");
        let down = resample(&src, 8000, 22050);
        assert_eq!(down.len(), 22050);
    }

    #[test]
    fn normalise_hits_the_target_and_never_clips() {
        let quiet: Vec<f64> = (0..800).map(|i| 0.01 * (i as f64 / 3.0).sin()).collect();
        let out = normalise(&quiet, 8000);
        let rms = (out
            .iter()
            .map(|&s| (s as f64 / 32767.0).powi(2))
            .sum::<f64>()
            / 800.0)
            .sqrt();
        assert!(rms > 0.08 && rms < 0.11, "{rms}");
        assert_eq!(out[0], 0);
        let spiky: Vec<f64> = (0..800)
            .map(|i| if i == 400 { 1.0 } else { 0.001 })
            .collect();
        let out = normalise(&spiky, 8000);
        assert!(
            out.iter()
                .all(|&s| (s as f64) <= PEAK_LIMIT * 32767.0 + 1.0)
        );
    }

    #[test]
    fn hostile_wav_headers_are_refused_not_a_panic() {
        // Written at 8 kHz, then the header's rate (offset 24) and byte rate (28) are patched, as
        // a hostile file would have them.
        let wav = |rate: u32, samples: u32| {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut out = Cursor::new(Vec::new());
            let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
            for _ in 0..samples {
                w.write_sample(0i16).unwrap();
            }
            w.finalize().unwrap();
            let mut bytes = out.into_inner();
            bytes[24..28].copy_from_slice(&rate.to_le_bytes());
            bytes[28..32].copy_from_slice(&(rate * 2).to_le_bytes());
            bytes
        };
        assert!(matches!(read_wav(&wav(0, 10)), Err(WhisperError::Rate(0))));
        assert!(matches!(read_wav(&wav(1, 10)), Err(WhisperError::Rate(1))));
        assert!(read_wav(&wav(8000, 8000 * 31)).is_err());
        assert_eq!(read_wav(&wav(8000, 0)).unwrap().0.len(), 0);
        assert!(normalise(&[], 8000).is_empty());
    }

    #[test]
    fn wav_round_trip_header() {
        let bytes = wav_bytes(&[0, 1000, -1000], 16000).unwrap();
        let reader = hound::WavReader::new(Cursor::new(&bytes)).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, 16000, 16)
        );
        assert_eq!(reader.len(), 3);
    }
}
