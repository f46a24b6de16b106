export { MountError, uniqueLowers, unmountPath, isMountPoint, type MountSpec } from './mount.js';
export { capabilitiesOf, changeInView, viewDirs, DRIVER_NAMES, type Capabilities, type DriverName, type PrepareRequest, type Snapshotter, type View } from './snapshotter.js';
export { selectSnapshotter, settleSnapshotter } from './select.js';
export { KernelOverlaySnapshotter, FuseOverlaySnapshotter } from './overlay.js';
export { CopySnapshotter } from './copy.js';
export { adoptUpperDir, unpackLayer, unpackLayerBlob } from './layers.js';
export { dropRuntimeStubs } from './stubs.js';
export { releaseLeftView } from './release.js';
