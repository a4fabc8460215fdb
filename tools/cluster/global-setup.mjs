// Jest loads global setup outside its module mapper, so the TypeScript is loaded through tsx.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const mod = await tsImport('./global-setup-impl.ts', import.meta.url);
  await mod.default();
}
