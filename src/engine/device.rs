//! Device and dtype choice at run time: CUDA, then Metal, then the CPU, or whatever the user asks for.

use candle_core::{DType, Device};
use std::fmt;
use std::str::FromStr;

/// Which device the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceRequest {
    /// CUDA if built in and present, else Metal if built in and present, else the CPU.
    #[default]
    Auto,
    /// The CPU (all cores).
    Cpu,
    /// CUDA device by ordinal.
    Cuda(usize),
    /// Metal device by ordinal.
    Metal(usize),
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Metal(n) => write!(f, "metal:{n}"),
        }
    }
}

impl FromStr for DeviceRequest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (kind, ordinal) = match lower.split_once(':') {
            Some((k, n)) => {
                let n = n.parse::<usize>().map_err(|_| format!("bad device ordinal in '{s}'"))?;
                (k.to_string(), n)
            }
            None => (lower.clone(), 0),
        };
        match kind.as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(ordinal)),
            "metal" | "mps" => Ok(Self::Metal(ordinal)),
            _ => Err(format!("unknown device '{s}': use auto, cpu, cuda[:N] or metal[:N]")),
        }
    }
}

/// A device that could not be opened, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The binary was built without the backend the user asked for.
    #[error("{backend} was requested but this build of dtm-studio has no {backend} support: rebuild dtm-studio with the cargo feature `{feature}`")]
    NotCompiled {
        /// "CUDA" or "Metal".
        backend: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The backend is compiled in but the device did not open.
    #[error("could not open {backend} device {ordinal}: {source}")]
    Open {
        /// "CUDA" or "Metal".
        backend: &'static str,
        /// The device index.
        ordinal: usize,
        /// The driver's error.
        source: candle_core::Error,
    },
}

/// Opens the requested device. `Auto` falls back silently from CUDA to Metal to the CPU.
pub fn open_device(request: DeviceRequest) -> Result<Device, DeviceError> {
    match request {
        DeviceRequest::Cpu => Ok(Device::Cpu),
        DeviceRequest::Cuda(ordinal) => open_cuda(ordinal),
        DeviceRequest::Metal(ordinal) => open_metal(ordinal),
        DeviceRequest::Auto => {
            if let Ok(d) = open_cuda(0) {
                return Ok(d);
            }
            if let Ok(d) = open_metal(0) {
                return Ok(d);
            }
            Ok(Device::Cpu)
        }
    }
}

fn open_cuda(ordinal: usize) -> Result<Device, DeviceError> {
    if !cfg!(feature = "cuda") {
        return Err(DeviceError::NotCompiled { backend: "CUDA", feature: "cuda" });
    }
    Device::new_cuda(ordinal).map_err(|source| DeviceError::Open { backend: "CUDA", ordinal, source })
}

fn open_metal(ordinal: usize) -> Result<Device, DeviceError> {
    if !cfg!(feature = "metal") {
        return Err(DeviceError::NotCompiled { backend: "Metal", feature: "metal" });
    }
    Device::new_metal(ordinal).map_err(|source| DeviceError::Open { backend: "Metal", ordinal, source })
}

/// A device the user can pick, with its memory.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// How to ask for it.
    pub request: DeviceRequest,
    /// What to show ("CPU (16 threads)", "cuda:0 NVIDIA H200").
    pub name: String,
    /// Memory in all, in bytes, when known.
    pub total_bytes: Option<u64>,
    /// Memory free now, in bytes, when known.
    pub free_bytes: Option<u64>,
}

/// The CPU's memory from `/proc/meminfo`: (total, available) in bytes (Linux; `None` elsewhere).
fn system_memory() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// Every device this build can use: the CPU, then each CUDA and Metal device found, with memory.
/// Opens each GPU once to ask; takes a moment, so call it off the UI thread.
pub fn list_devices() -> Vec<DeviceInfo> {
    let memory = system_memory();
    let mut devices = vec![DeviceInfo {
        request: DeviceRequest::Cpu,
        name: format!("CPU ({} threads)", candle_core::utils::get_num_threads()),
        total_bytes: memory.map(|m| m.0),
        free_bytes: memory.map(|m| m.1),
    }];
    devices.extend(gpu_devices());
    devices
}

/// The GPUs this build can use: every CUDA device, then every Metal device.
fn gpu_devices() -> Vec<DeviceInfo> {
    let mut devices = cuda_devices();
    devices.extend(metal_devices());
    devices
}

/// Every CUDA device with its name and memory (total and free now, from the driver). Asks the
/// driver directly through candle's cudarc, without creating a candle device (no cuBLAS handle,
/// no kernels loaded). No driver or no device: an empty list.
#[cfg(feature = "cuda")]
fn cuda_devices() -> Vec<DeviceInfo> {
    use candle_core::cuda_backend::cudarc::driver::CudaContext;
    let count = CudaContext::device_count().ok().and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    (0..count)
        .filter_map(|ordinal| {
            let context = CudaContext::new(ordinal).ok()?;
            let name = context.name().unwrap_or_else(|_| "CUDA device".into());
            let memory = context.mem_get_info().ok();
            Some(DeviceInfo {
                request: DeviceRequest::Cuda(ordinal),
                name: format!("cuda:{ordinal} {name}"),
                total_bytes: memory.map(|(_, total)| total as u64),
                free_bytes: memory.map(|(free, _)| free as u64),
            })
        })
        .collect()
}

#[cfg(not(feature = "cuda"))]
fn cuda_devices() -> Vec<DeviceInfo> {
    Vec::new()
}

/// Every Metal device: its architecture name, Metal's recommended working-set size as the
/// memory in all, and that less what this process has allocated on it as the memory free. The
/// devices are counted first: `Device::new_metal` panics on an ordinal past the last one.
#[cfg(feature = "metal")]
fn metal_devices() -> Vec<DeviceInfo> {
    let count = candle_metal_kernels::metal::Device::all().len();
    (0..count)
        .filter_map(|ordinal| match Device::new_metal(ordinal) {
            Ok(Device::Metal(metal)) => Some((ordinal, metal)),
            _ => None,
        })
        .map(|(ordinal, metal)| {
            let device = metal.device();
            let working_set = device.recommended_max_working_set_size() as u64;
            let allocated = device.current_allocated_size() as u64;
            DeviceInfo {
                request: DeviceRequest::Metal(ordinal),
                name: format!("metal:{ordinal} {}", device.architecture_name()),
                total_bytes: Some(working_set),
                free_bytes: Some(working_set.saturating_sub(allocated)),
            }
        })
        .collect()
}

#[cfg(not(feature = "metal"))]
fn metal_devices() -> Vec<DeviceInfo> {
    Vec::new()
}

/// The memory free on `device` now, in bytes, when it reports it (the CPU: the memory Linux
/// says is available).
pub fn free_memory(device: &Device) -> Option<u64> {
    let gpu = |request: DeviceRequest| gpu_devices().into_iter().find(|d| d.request == request).and_then(|d| d.free_bytes);
    match device.location() {
        candle_core::DeviceLocation::Cpu => system_memory().map(|(_, available)| available),
        candle_core::DeviceLocation::Cuda { gpu_id } => gpu(DeviceRequest::Cuda(gpu_id)),
        candle_core::DeviceLocation::Metal { gpu_id } => gpu(DeviceRequest::Metal(gpu_id)),
    }
}

/// A short human description of a device, e.g. "cpu (2 threads)" or "cuda:1".
pub fn describe_device(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => format!("cpu ({} threads)", candle_core::utils::get_num_threads()),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// The device `request` names in `devices` (a [`list_devices`] answer): `Auto` is the first GPU,
/// else the CPU.
pub fn find_device(devices: &[DeviceInfo], request: DeviceRequest) -> Option<&DeviceInfo> {
    match request {
        DeviceRequest::Auto => devices.iter().find(|d| d.request != DeviceRequest::Cpu).or_else(|| devices.first()),
        wanted => devices.iter().find(|d| d.request == wanted),
    }
}

/// The working dtype of a model's weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkDType(pub DType);

impl FromStr for WorkDType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float32" => Ok(Self(DType::F32)),
            "bf16" | "bfloat16" => Ok(Self(DType::BF16)),
            "f16" | "float16" | "half" => Ok(Self(DType::F16)),
            _ => Err(format!("unknown dtype '{s}': use f32, bf16 or f16")),
        }
    }
}

impl fmt::Display for WorkDType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(dtype_name(self.0))
    }
}

/// The dtype used when the user does not choose: f32 on the CPU, bf16 on GPUs.
pub fn default_dtype(device: &Device) -> DType {
    if device.is_cpu() {
        DType::F32
    } else {
        DType::BF16
    }
}

/// The short name of a dtype ("f32", "bf16", ...).
pub fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::BF16 => "bf16",
        DType::F16 => "f16",
        DType::F64 => "f64",
        DType::U8 => "u8",
        DType::U32 => "u32",
        DType::I64 => "i64",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_requests() {
        assert_eq!("cpu".parse::<DeviceRequest>(), Ok(DeviceRequest::Cpu));
        assert_eq!("CUDA:1".parse::<DeviceRequest>(), Ok(DeviceRequest::Cuda(1)));
        assert_eq!("metal".parse::<DeviceRequest>(), Ok(DeviceRequest::Metal(0)));
        assert!("tpu".parse::<DeviceRequest>().is_err());
        assert!("cuda:x".parse::<DeviceRequest>().is_err());
    }

    #[test]
    fn auto_falls_back_to_cpu_without_gpu_features() {
        if !cfg!(feature = "cuda") && !cfg!(feature = "metal") {
            assert!(open_device(DeviceRequest::Auto).map(|d| d.is_cpu()).unwrap_or(false));
            let err = open_device(DeviceRequest::Cuda(0)).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("cargo feature `cuda`"), "{err}");
        }
    }

    #[test]
    fn finds_the_requested_device_and_auto_prefers_a_gpu() {
        let info = |request| DeviceInfo { request, name: request.to_string(), total_bytes: None, free_bytes: None };
        let found = |list: &[DeviceInfo], r| find_device(list, r).map(|d| d.request);
        let cpu_only = [info(DeviceRequest::Cpu)];
        assert_eq!(found(&cpu_only, DeviceRequest::Auto), Some(DeviceRequest::Cpu));
        assert_eq!(found(&cpu_only, DeviceRequest::Cuda(0)), None);
        let gpus = [info(DeviceRequest::Cpu), info(DeviceRequest::Cuda(0)), info(DeviceRequest::Cuda(1))];
        assert_eq!(found(&gpus, DeviceRequest::Auto), Some(DeviceRequest::Cuda(0)));
        assert_eq!(found(&gpus, DeviceRequest::Cuda(1)), Some(DeviceRequest::Cuda(1)));
        assert_eq!(found(&gpus, DeviceRequest::Cpu), Some(DeviceRequest::Cpu));
    }

    #[test]
    fn the_cpu_is_listed_first_with_its_memory() {
        let devices = list_devices();
        assert_eq!(devices[0].request, DeviceRequest::Cpu);
        if cfg!(target_os = "linux") {
            let (total, free) = (devices[0].total_bytes.unwrap_or(0), devices[0].free_bytes.unwrap_or(0));
            assert!(total > 0 && free > 0 && free <= total, "total {total}, free {free}");
        }
        assert_eq!(describe_device(&Device::Cpu), format!("cpu ({} threads)", candle_core::utils::get_num_threads()));
    }

    #[test]
    fn parses_dtypes() {
        assert_eq!("bf16".parse::<WorkDType>().map(|d| d.0), Ok(DType::BF16));
        assert!("int4".parse::<WorkDType>().is_err());
    }
}
