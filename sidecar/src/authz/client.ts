// A minimal ext_authz client, speaking to the sidecar exactly as Envoy does
// (real Envoy protos over gRPC). Used by the demo, e2e tests and benchmarks.
import * as grpc from '@grpc/grpc-js';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { CheckRequestSchema, CheckResponseSchema, type CheckRequest, type CheckResponse } from '../../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { CHECK_PATH } from './server.js';

export class AuthzClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  check(request: CheckRequest, timeoutMs = 5000): Promise<CheckResponse> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        CHECK_PATH,
        (r: CheckRequest) => Buffer.from(toBinary(CheckRequestSchema, r)),
        (b: Buffer) => fromBinary(CheckResponseSchema, b),
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (err !== null) reject(err);
          else if (res === undefined) reject(new Error('empty Check response'));
          else resolve(res);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
