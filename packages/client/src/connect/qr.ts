import QRCode from 'qrcode';

/** A QR code of a connect URI, as SVG markup and as a data URL an `<img src>` takes. */
export interface ConnectQr {
  svg: string;
  /** `data:image/svg+xml;base64,…` — the same SVG, so browser and Node render identically (no canvas). */
  dataUrl: string;
}

/**
 * Renders `uri` as a QR code (error correction M, 4-module quiet zone).
 *
 * @example
 * ```ts
 * const { dataUrl } = await renderConnectQr(uri); img.src = dataUrl;
 * ```
 */
export async function renderConnectQr(uri: string, options: { margin?: number; width?: number } = {}): Promise<ConnectQr> {
  const svg = await QRCode.toString(uri, {
    type: 'svg',
    errorCorrectionLevel: 'M',
    margin: options.margin ?? 4,
    ...(options.width !== undefined ? { width: options.width } : {}),
  });
  return { svg, dataUrl: `data:image/svg+xml;base64,${btoa(svg)}` };
}
