// Preamble: f16 operands without shader-f16 (SwiftShader has none): the same bytes read as
// pairs of u32, each holding two halves that unpack2x16float widens to f32.
@group(0) @binding(0) var<storage, read> a: array<vec2u>;
@group(0) @binding(1) var<storage, read> b: array<vec2u>;

fn load4_a(i: u32) -> vec4f { let w = a[i]; return vec4f(unpack2x16float(w.x), unpack2x16float(w.y)); }
fn load4_b(i: u32) -> vec4f { let w = b[i]; return vec4f(unpack2x16float(w.x), unpack2x16float(w.y)); }
