"""The static files' storage: WhiteNoise's hashed and compressed copies once
`collectstatic` has written its manifest; the plain names before (the demo and the tests,
which serve the apps' own files through WhiteNoise's finders)."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class CollectedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name: str) -> str:
        if not self.hashed_files:  # no manifest: nothing was collected
            return name
        return super().stored_name(name)
