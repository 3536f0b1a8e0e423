"""Finding optional model weights that tools upgrade to, by file name in documented folders.

Each tool declares what it can use (`WeightsSpec`: folders under the models folder, file names,
licence); `find` returns the first installed file, `require` answers "503" naming the file and
the folder it belongs in. The README's tool table lists the same specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from imgopen.errors import ImgOpenError


@dataclass(frozen=True)
class WeightsSpec:
    label: str  # what it is, for messages: "inswapper face swapper"
    folders: tuple[str, ...]  # under the models folder, imgopen's name first
    files: tuple[str, ...]  # accepted file names (or glob patterns), preferred first
    licence: str = "see the model's page"
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def candidates(self, models_dir: Path) -> list[Path]:
        found: list[Path] = []
        for folder in self.folders:
            base = models_dir / folder
            if not base.is_dir():
                continue
            for name in self.files:
                found.extend(sorted(p for p in base.glob(name) if p.is_file() or p.is_dir()))
        return found

    def find(self, models_dir: Path) -> Path | None:
        candidates = self.candidates(models_dir)
        return candidates[0] if candidates else None

    def require(self, models_dir: Path) -> Path:
        path = self.find(models_dir)
        if path is None:
            raise ImgOpenError("503", self.missing_message(models_dir))
        return path

    def missing_message(self, models_dir: Path) -> str:
        return (
            f"{self.label} is not installed: put {' or '.join(self.files)} into {models_dir / self.folders[0]}"
            f" (licence: {self.licence})"
        )
