/** @type {import('next').NextConfig} */
export default {
  // The example lives inside the edgetoken repo: do not infer a monorepo root above it.
  outputFileTracingRoot: import.meta.dirname,
};
