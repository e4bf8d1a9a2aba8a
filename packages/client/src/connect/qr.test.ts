import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { renderConnectQr } from './qr.js';

describe('renderConnectQr', () => {
  const uri = `latchkey:connect?v=1&id=5f0c6a2e-8b1d-4c3a-9e7f-2a4b6c8d0e1f&relay=${encodeURIComponent('https://auth.example.com')}&pk=hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo&exp=1767225600`;

  it('renders SVG and the same SVG as a data URL', async () => {
    const { svg, dataUrl } = await renderConnectQr(uri);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(dataUrl.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(atob(dataUrl.slice('data:image/svg+xml;base64,'.length))).toBe(svg);
  });

  it('encodes the whole URI in a small symbol (version <= 10 at error correction M)', () => {
    const code = QRCode.create(uri, { errorCorrectionLevel: 'M' });
    expect(code.version).toBeLessThanOrEqual(10);
    // Byte segments hold bytes, numeric ones digits: together they are the URI, nothing dropped.
    const text = code.segments
      .map((s) => (typeof s.data === 'string' ? s.data : new TextDecoder().decode(Uint8Array.from(s.data as ArrayLike<number>))))
      .join('');
    expect(text).toBe(uri);
  });
});
