"""GPU memory probes on a fake sysfs tree and a fake `pynvml` module: real readings or an
honest "unknown", never a guess."""

from __future__ import annotations

import logging
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from tray.core.gpu import GpuDevice, GpuGap, GpuReport, memory_line
from tray.services.gpu import (
    SYSFS_DRM_ENV,
    AmdSysfsProbe,
    GpuProbe,
    NoGpuProbe,
    NvmlProbe,
    UnifiedMemoryProbe,
    default_probes,
    select_gpu_probe,
)

GB = 1024**3


# --- a fake sysfs tree ---------------------------------------------------------------


def card(root: Path, name: str, **files: str) -> Path:
    device = root / name / "device"
    device.mkdir(parents=True)
    for filename, content in files.items():
        (device / filename).write_text(content)
    return device


@pytest.fixture
def drm(tmp_path: Path) -> Path:
    """Two cards as amdgpu and another driver lay them out, plus the entries to ignore."""
    root = tmp_path / "drm"
    card(root, "card0", vendor="0x8086\n")  # an Intel iGPU: no VRAM files
    card(
        root,
        "card1",
        mem_info_vram_used=f"{3 * GB}\n",
        mem_info_vram_total=f"{16 * GB}\n",
        product_name="Radeon RX 7800 XT\n",
    )
    (root / "card1-DP-1").mkdir()  # a connector, not a card
    (root / "renderD128").mkdir()
    (root / "version").write_text("drm 1.1.0 20060810\n")
    return root


def test_amd_sysfs_reads_the_card_with_vram_files(drm: Path) -> None:
    report = AmdSysfsProbe(drm).read()
    assert report == GpuReport(
        devices=(
            GpuDevice(
                name="Radeon RX 7800 XT",
                used_bytes=3 * GB,
                total_bytes=16 * GB,
                source="amd-sysfs",
            ),
        )
    )
    assert report.used_fraction == pytest.approx(3 / 16)


def test_amd_sysfs_names_a_card_without_product_name_after_the_card(tmp_path: Path) -> None:
    for n in (10, 2):  # numeric order, not text order
        card(tmp_path, f"card{n}", mem_info_vram_used="1\n", mem_info_vram_total="4\n")
    report = AmdSysfsProbe(tmp_path).read()
    assert [d.name for d in report.devices] == ["AMD GPU (card2)", "AMD GPU (card10)"]
    assert (report.used_bytes, report.total_bytes) == (2, 8)


def test_amd_sysfs_garbage_is_unknown_not_a_guess_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    card(tmp_path, "card0", mem_info_vram_used="garbage\n", mem_info_vram_total=f"{8 * GB}\n")
    card(tmp_path, "card1", mem_info_vram_used="-5\n")  # negative, and no total file
    probe = AmdSysfsProbe(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tray.services.gpu"):
        first = probe.read()
        second = probe.read()  # polled again: no new log lines
    assert first == second
    assert [(d.used_bytes, d.total_bytes) for d in first.devices] == [(None, 8 * GB), (None, None)]
    assert first.used_bytes is None and first.used_fraction is None  # a sum with a hole is unknown
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3, warnings
    assert any("card0/device/mem_info_vram_used holds “garbage”" in w for w in warnings)
    assert any("card1/device/mem_info_vram_total cannot be read" in w for w in warnings)


def test_amd_sysfs_without_cards_says_why(tmp_path: Path, drm: Path) -> None:
    missing = AmdSysfsProbe(tmp_path / "nope").read()
    assert missing.devices == ()
    assert missing.unavailable_reason == f"{tmp_path / 'nope'} does not exist"
    no_vram = tmp_path / "intel-only"
    card(no_vram, "card0", vendor="0x8086\n")
    report = AmdSysfsProbe(no_vram).read()
    assert report.devices == ()
    assert report.unavailable_reason == f"no card with mem_info_vram_used/total under {no_vram}"


def test_amd_sysfs_root_can_be_pointed_elsewhere_for_tests(
    drm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SYSFS_DRM_ENV, raising=False)
    assert AmdSysfsProbe.from_environment().root == Path("/sys/class/drm")
    monkeypatch.setenv(SYSFS_DRM_ENV, str(drm))
    assert AmdSysfsProbe.from_environment().root == drm


# --- a fake pynvml -------------------------------------------------------------------


class NVMLError(Exception):
    pass


@dataclass
class Memory:
    total: int
    used: int
    free: int


class FakeNvml(types.ModuleType):
    """The part of nvidia-ml-py's `pynvml` the probe uses, with calls counted."""

    def __init__(self, devices: list[tuple[str | bytes, int, int]], init_error: str = "") -> None:
        super().__init__("pynvml")
        self.devices = devices
        self.init_error = init_error
        self.read_error = ""
        self.inits = self.shutdowns = 0
        self.NVMLError = NVMLError

    def nvmlInit(self) -> None:
        self.inits += 1
        if self.init_error:
            raise NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if self.read_error:
            raise NVMLError(self.read_error)
        return index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        return self.devices[handle][0]

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Memory:
        _, used, total = self.devices[handle]
        return Memory(total=total, used=used, free=total - used)


def install(monkeypatch: pytest.MonkeyPatch, fake: types.ModuleType | None) -> None:
    # None in sys.modules makes `import pynvml` raise ImportError: "not installed".
    monkeypatch.setitem(sys.modules, "pynvml", fake)


def test_nvml_reads_every_device_and_initialises_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([("NVIDIA GeForce RTX 4090", 5 * GB, 24 * GB), (b"Tesla T4", 1 * GB, 16 * GB)])
    install(monkeypatch, fake)
    probe = NvmlProbe()
    report = probe.read()
    assert report.devices == (
        GpuDevice(
            name="NVIDIA GeForce RTX 4090", used_bytes=5 * GB, total_bytes=24 * GB, source="nvml"
        ),
        GpuDevice(name="Tesla T4", used_bytes=1 * GB, total_bytes=16 * GB, source="nvml"),
    )
    assert (report.used_bytes, report.total_bytes) == (6 * GB, 40 * GB)
    fake.devices[0] = ("NVIDIA GeForce RTX 4090", 20 * GB, 24 * GB)
    assert probe.read().devices[0].used_bytes == 20 * GB
    assert fake.inits == 1
    probe.close()
    assert fake.shutdowns == 1


def test_nvml_init_error_is_a_reason_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([], init_error="Driver Not Loaded")
    install(monkeypatch, fake)
    probe = NvmlProbe()
    first = probe.read()
    assert first == GpuReport(
        unavailable_reason="NVML could not start: Driver Not Loaded.",
        gaps=(GpuGap(vendor="NVIDIA"),),  # no driver: no NVIDIA GPU to read
    )
    assert first.why_unknown == "no NVIDIA GPU found"
    assert probe.read() == first
    assert fake.inits == 1


def test_nvml_read_error_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([("GPU", 1, 2)])
    install(monkeypatch, fake)
    probe = NvmlProbe()
    assert probe.read().devices
    fake.read_error = "GPU is lost"
    report = probe.read()
    assert report.devices == ()
    assert report.unavailable_reason == "NVML could not read GPU memory: GPU is lost."
    assert report.why_unknown == "NVML could not read it"


def test_nvml_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, None)
    report = NvmlProbe().read()
    assert report.devices == ()
    assert report.unavailable_reason is not None
    assert report.why_unknown == "NVML not installed"
    assert report.unavailable_reason.startswith("nvidia-ml-py is not installed")
    assert "lmstudio-tray[nvidia]" in report.unavailable_reason


# --- unified memory ------------------------------------------------------------------


@dataclass
class VirtualMemory:
    total: int
    available: int


def test_unified_memory_only_on_apple_silicon(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("psutil")
    fake.virtual_memory = lambda: VirtualMemory(total=64 * GB, available=40 * GB)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "psutil", fake)

    mac = UnifiedMemoryProbe(system="darwin", machine="arm64")
    assert mac.applies
    (device,) = mac.read().devices
    assert device == GpuDevice(
        name="Apple Silicon unified memory (shared with the system)",
        used_bytes=24 * GB,
        total_bytes=64 * GB,
        source="unified-memory",
    )
    for system, machine in (("darwin", "x86_64"), ("linux", "arm64"), ("win32", "AMD64")):
        other = UnifiedMemoryProbe(system=system, machine=machine)
        assert not other.applies
        assert other.read() == GpuReport(
            unavailable_reason="unified memory is read on Apple Silicon only",
            gaps=(GpuGap(vendor="Apple"),),
        )


def test_unified_memory_without_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)
    report = UnifiedMemoryProbe(system="darwin", machine="arm64").read()
    assert report.devices == ()
    assert "psutil is not installed" in (report.unavailable_reason or "")


# --- selection -----------------------------------------------------------------------


class Scripted:
    def __init__(self, label: str, report: GpuReport) -> None:
        self.label = label
        self.report = report
        self.reads = 0

    def read(self) -> GpuReport:
        self.reads += 1
        return self.report


def test_selection_picks_the_first_source_that_finds_a_device() -> None:
    none = Scripted("A", GpuReport(unavailable_reason="no A"))
    found = Scripted("B", GpuReport(devices=(GpuDevice(name="b", source="b"),)))
    later = Scripted("C", GpuReport(devices=(GpuDevice(name="c", source="c"),)))
    assert select_gpu_probe([none, found, later]) is found
    assert (none.reads, found.reads, later.reads) == (1, 1, 0)


def test_selection_without_any_device_says_why_for_each_source() -> None:
    probe = select_gpu_probe(
        [
            Scripted("NVIDIA GPU (NVML)", GpuReport(unavailable_reason="no driver")),
            Scripted("AMD GPU (sysfs)", GpuReport(unavailable_reason="no card")),
        ]
    )
    assert isinstance(probe, NoGpuProbe)
    assert probe.read() == GpuReport(
        unavailable_reason="No NVIDIA GPU (NVML) or AMD GPU (sysfs) found — "
        "NVIDIA GPU (NVML): no driver; AMD GPU (sysfs): no card."
    )
    assert select_gpu_probe([]).read().unavailable_reason == "No GPU memory source found."


def test_default_order_nvml_before_amd_and_nvml_released_when_not_chosen(
    drm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SYSFS_DRM_ENV, str(drm))
    fake = FakeNvml([])  # NVML works but sees no NVIDIA GPU
    install(monkeypatch, fake)
    probes = default_probes()
    assert [type(p) for p in probes[:2]] == [NvmlProbe, AmdSysfsProbe]
    assert all(isinstance(p, GpuProbe) for p in probes)
    chosen = select_gpu_probe()
    assert isinstance(chosen, AmdSysfsProbe)
    assert chosen.read().devices[0].name == "Radeon RX 7800 XT"
    assert (fake.inits, fake.shutdowns) == (1, 1)

    fake.devices.append(("NVIDIA RTX A6000", 1 * GB, 48 * GB))
    assert isinstance(select_gpu_probe(), NvmlProbe)  # NVIDIA wins when both are present


def test_this_machine_answers_without_guessing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine, a report is either real devices or a reason."""
    monkeypatch.delenv(SYSFS_DRM_ENV, raising=False)
    report = select_gpu_probe().read()
    assert bool(report.devices) != bool(report.unavailable_reason)


# --- the menu's words when nothing can be read ------------------------------------------


def test_selection_keeps_each_sources_few_words_for_the_menu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine without a GPU: NVML's library is missing and there is no AMD card."""
    install(monkeypatch, None)
    probe = select_gpu_probe([NvmlProbe(), AmdSysfsProbe(tmp_path / "no-drm")])
    report = probe.read()
    assert report.why_unknown == "NVML not installed; no AMD GPU found"
    assert memory_line(report) == "GPU memory: unknown — NVML not installed; no AMD GPU found"
    # the whole story stays for the log and `lmstudio-tray gpu`
    assert "pip install" in (report.unavailable_reason or "")


@pytest.mark.parametrize(
    ("gaps", "said"),
    [
        (
            (GpuGap(vendor="NVIDIA"), GpuGap(vendor="AMD"), GpuGap(vendor="Apple")),
            "no NVIDIA, AMD or Apple GPU found",
        ),
        ((GpuGap(vendor="NVIDIA"), GpuGap(vendor="AMD")), "no NVIDIA or AMD GPU found"),
        ((GpuGap(vendor="Apple", problem="psutil not installed"),), "psutil not installed"),
    ],
)
def test_why_unknown_in_a_few_words(gaps: tuple[GpuGap, ...], said: str) -> None:
    assert GpuReport(unavailable_reason="long story.", gaps=gaps).why_unknown == said


def test_the_gpu_line_is_there_whether_or_not_memory_can_be_read() -> None:
    card = GpuDevice(name="RTX", used_bytes=6 * 10**9, total_bytes=16 * 10**9, source="nvml")
    read = GpuReport(devices=(card,))
    assert memory_line(read) == "GPU memory: 6.00 GB of 16.00 GB used"
    assert memory_line(read, 2_500_000_000) == (
        "GPU memory: 6.00 GB of 16.00 GB used (LM Studio's models: 2.50 GB)"
    )
    mute = GpuReport(devices=(card.model_copy(update={"used_bytes": None}),))
    assert memory_line(mute) == "GPU memory: unknown — RTX did not report it"
    # an old report with only the long reason still gets a short why
    old = GpuReport(unavailable_reason="No NVIDIA GPU (NVML) found — NVIDIA GPU (NVML): x.")
    assert memory_line(old) == "GPU memory: unknown — No NVIDIA GPU (NVML) found"
    assert memory_line(None) is None  # nobody looked
