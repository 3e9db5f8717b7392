// Preamble, first in a chain: kernels that use subgroup operations (needs the subgroups feature).
enable subgroups;
