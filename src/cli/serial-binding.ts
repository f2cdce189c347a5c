/**
 * The operating system's serialport binding, loaded only when a command
 * opens real ports (its native addon is not needed otherwise).
 */
import type { BindingInterface } from '@serialport/bindings-interface';

export async function defaultSerialBinding(): Promise<BindingInterface> {
  const { SerialPort } = await import('serialport');
  return SerialPort.binding;
}
