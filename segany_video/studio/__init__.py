"""``segany-video studio``: a local web page to prompt, preview, track, correct and export.

The server (Starlette on uvicorn) lives in :mod:`.app`; one :class:`.session.StudioSession`
holds the open video, the objects and their keyframes, the tracked results and the background
job. The page (``static/``) is plain HTML/CSS/JS shipped in the package; it works offline.
"""
