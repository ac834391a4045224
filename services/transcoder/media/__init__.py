"""The transcoder's media toolkit: plain functions over ffmpeg (no nameko, no broker, no DB).

- `timecode`   in/out points (timecode or seconds) → frames; `resolve_cut`, `CutRequestError`
- `renditions` the renditions table, ffmpeg-python graphs, loudness, HLS, poster, storyboard
- `cuts`       `fast_cut` (keyframe, stream copy) and `frame_cut` (smart / copy / reencode)
- `run`        running a graph: progress, timeout, stderr tail, atomic outputs, `TranscodeError`
- `sample`     `make_master`: broadcast-like ProRes masters for the demo and the tests
- `services.shared.mediainfo.probe` says what a file is (used by all of them, and at ingest)
"""
