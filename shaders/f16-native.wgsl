// Preamble: f16 operands read natively, four halves per vec4<f16> load (needs shader-f16).
enable f16;

@group(0) @binding(0) var<storage, read> a: array<vec4<f16>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f16>>;

fn load4_a(i: u32) -> vec4f { return vec4f(a[i]); }
fn load4_b(i: u32) -> vec4f { return vec4f(b[i]); }
