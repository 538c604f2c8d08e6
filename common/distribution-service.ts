// grpc-js definition of agentwarden.v1.PolicyDistribution/Stream with
// protobuf-es codecs (shared by the controller's server and the sidecar's client).
import type * as grpc from '@grpc/grpc-js';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ControllerMessageSchema, SidecarMessageSchema, type ControllerMessage, type SidecarMessage,
} from '../proto/gen/agentwarden/v1/distribution_pb.js';

export const STREAM_PATH = '/agentwarden.v1.PolicyDistribution/Stream';

export const distributionService = {
  Stream: {
    path: STREAM_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (m: SidecarMessage): Buffer => Buffer.from(toBinary(SidecarMessageSchema, m)),
    requestDeserialize: (b: Buffer): SidecarMessage => fromBinary(SidecarMessageSchema, b),
    // The controller may hand over bytes it serialised once for many streams.
    responseSerialize: (m: ControllerMessage | Uint8Array): Buffer => Buffer.from(m instanceof Uint8Array ? m : toBinary(ControllerMessageSchema, m)),
    responseDeserialize: (b: Buffer): ControllerMessage => fromBinary(ControllerMessageSchema, b),
  },
} satisfies grpc.ServiceDefinition;

/** Is `address` ("host:port") on loopback? Plaintext is allowed only there. */
export function isLoopback(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
