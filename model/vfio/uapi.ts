/** The uapi tables live in a leaf module (model/uapi/vfio.ts) that profiles can read without VFIO. */
export * from '../uapi/vfio'
