// Preamble: f32 operands A and B of the vec4 matmul bodies (the f16 ones are f16-native.wgsl
// and f16-packed.wgsl): load4_a(i) / load4_b(i) return the i-th vec4.
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;

fn load4_a(i: u32) -> vec4f { return a[i]; }
fn load4_b(i: u32) -> vec4f { return b[i]; }
