/**
 * Linux errno names and the value-or-error result type shared by every model layer.
 *
 * Errors are values, never thrown: a scenario compares `error.errno` with the name the kernel
 * source gives; `message` is for people and is never matched by a test.
 * An exception escaping the model means a bug in the TCK, not a modelled kernel error.
 */

/** Linux errno names with their x86/arm64 (asm-generic) numbers. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ENOTTY: 25,
  ESPIPE: 29,
  ERANGE: 34,
  ENOSYS: 38,
  EOVERFLOW: 75,
  /** IOMMU_IOAS_IOVA_RANGES: more ranges than the caller's array holds (the count is written back). */
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
} as const

export type Errno = keyof typeof ERRNO

export function isErrno(name: string): name is Errno {
  return Object.prototype.hasOwnProperty.call(ERRNO, name)
}

export interface KernelError {
  readonly errno: Errno
  /** Human explanation; never compared by tests. */
  readonly message: string
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: KernelError }

export function ok<T>(value: T): Result<T>
export function ok(): Result<void>
export function ok<T>(value?: T): Result<T | undefined> {
  return { ok: true, value }
}

export function fail(errno: Errno, message: string): { readonly ok: false; readonly error: KernelError } {
  return { ok: false, error: { errno, message } }
}
