{{/* Names, labels, images and the serving certificate shared by the templates. */}}

{{- define "agentwarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agentwarden.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The controller's name: its ServiceAccount, Service, Deployment (agentwarden-controller for release "agentwarden"). */}}
{{- define "agentwarden.controller" -}}
{{- printf "%s-controller" (include "agentwarden.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agentwarden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "agentwarden.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agentwarden
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "agentwarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentwarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "agentwarden.controllerSelectorLabels" -}}
{{ include "agentwarden.selectorLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{/* An image reference from {registry, repository, tag, digest}; the tag defaults to appVersion. Call with (list $image $). */}}
{{- define "agentwarden.image" -}}
{{- $image := index . 0 }}
{{- $root := index . 1 }}
{{- $ref := $image.repository }}
{{- if $image.registry }}{{ $ref = printf "%s/%s" $image.registry $image.repository }}{{ end }}
{{- $tag := $image.tag | default $root.Chart.AppVersion }}
{{- $ref = printf "%s:%s" $ref $tag }}
{{- if $image.digest }}{{ $ref = printf "%s@%s" $ref $image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/* The sidecar image: inject.sidecar.image when its repository is set, else the chart's image. */}}
{{- define "agentwarden.sidecarImage" -}}
{{- $image := .Values.image }}
{{- if .Values.inject.sidecar.image.repository }}{{ $image = .Values.inject.sidecar.image }}{{ end }}
{{- include "agentwarden.image" (list $image .) }}
{{- end }}

{{/* DNS names of the controller Service: the serving certificate's subject alternative names. */}}
{{- define "agentwarden.serviceDnsNames" -}}
{{- $svc := include "agentwarden.controller" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain) | toJson }}
{{- end }}

{{- define "agentwarden.controllerAddress" -}}
{{- .Values.inject.controllerAddress | default (printf "%s.%s.svc:%d" (include "agentwarden.controller" .) .Release.Namespace (int .Values.controller.ports.distribution)) }}
{{- end }}

{{- define "agentwarden.caSecret" -}}{{ printf "%s-ca" (include "agentwarden.fullname" .) }}{{- end }}
{{- define "agentwarden.tlsSecret" -}}{{ printf "%s-tls" (include "agentwarden.controller" .) }}{{- end }}
{{- define "agentwarden.mutatingName" -}}{{ printf "%s-inject" (include "agentwarden.fullname" .) }}{{- end }}
{{- define "agentwarden.validatingName" -}}{{ printf "%s-validate" (include "agentwarden.fullname" .) }}{{- end }}

{{/*
The Helm-generated CA and serving certificate, computed once per render and memoised in
.Values.__agentwardenCerts (every template that includes this sees the same keys).

Kept across upgrades: the live Secrets are read with `lookup`. The serving certificate is
re-issued when it expires within certs.renewBeforeDays, when its names changed, or when the
CA changed; the CA is re-generated when it expires within certs.renewBeforeDays (which
re-issues the serving certificate too). Expiry times are recorded in the Secrets'
agentwarden.io/not-after annotations (Unix seconds) because Helm's template functions cannot
parse certificates. `helm template` and client-side dry runs cannot look up: they render
fresh certificates.
*/}}
{{- define "agentwarden.certs" -}}
{{- if not (hasKey .Values "__agentwardenCerts") }}
{{- $now := int64 (now | unixEpoch) }}
{{- $renewBefore := mul (int64 .Values.certs.renewBeforeDays) 86400 }}
{{- $ns := .Release.Namespace }}
{{- $result := dict }}
{{- /* The CA */}}
{{- $caSecret := lookup "v1" "Secret" $ns (include "agentwarden.caSecret" .) }}
{{- $caData := dig "data" dict $caSecret }}
{{- $caNotAfter := int64 (dig "metadata" "annotations" "agentwarden.io/not-after" "0" $caSecret) }}
{{- $ca := dict }}
{{- if and (hasKey $caData "tls.crt") (hasKey $caData "tls.key") (gt (sub $caNotAfter $now) $renewBefore) }}
{{- $ca = buildCustomCert (index $caData "tls.crt") (index $caData "tls.key") }}
{{- $_ := set $result "caNotAfter" $caNotAfter }}
{{- else }}
{{- $ca = genCA (printf "%s-ca" (include "agentwarden.fullname" .)) (int .Values.certs.caValidityDays) }}
{{- $_ := set $result "caNotAfter" (add $now (mul (int64 .Values.certs.caValidityDays) 86400)) }}
{{- end }}
{{- $_ := set $result "caCert" $ca.Cert }}
{{- $_ := set $result "caKey" $ca.Key }}
{{- /* The serving certificate */}}
{{- $names := include "agentwarden.serviceDnsNames" . | fromJsonArray }}
{{- $namesHash := $names | join "," | sha256sum | trunc 16 }}
{{- $caHash := $ca.Cert | sha256sum | trunc 16 }}
{{- $tlsSecret := lookup "v1" "Secret" $ns (include "agentwarden.tlsSecret" .) }}
{{- $tlsData := dig "data" dict $tlsSecret }}
{{- $tlsAnnotations := dig "metadata" "annotations" dict $tlsSecret }}
{{- $tlsNotAfter := int64 (get $tlsAnnotations "agentwarden.io/not-after" | default "0") }}
{{- $reuse := and (hasKey $tlsData "tls.crt") (hasKey $tlsData "tls.key") (gt (sub $tlsNotAfter $now) $renewBefore) (eq (get $tlsAnnotations "agentwarden.io/ca-sha256" | default "") $caHash) (eq (get $tlsAnnotations "agentwarden.io/names-sha256" | default "") $namesHash) }}
{{- if $reuse }}
{{- $_ := set $result "tlsCert" (index $tlsData "tls.crt" | b64dec) }}
{{- $_ := set $result "tlsKey" (index $tlsData "tls.key" | b64dec) }}
{{- $_ := set $result "tlsNotAfter" $tlsNotAfter }}
{{- else }}
{{- $leaf := genSignedCert (index $names 2) nil $names (int .Values.certs.validityDays) $ca }}
{{- $_ := set $result "tlsCert" $leaf.Cert }}
{{- $_ := set $result "tlsKey" $leaf.Key }}
{{- $_ := set $result "tlsNotAfter" (add $now (mul (int64 .Values.certs.validityDays) 86400)) }}
{{- end }}
{{- $_ := set $result "caHash" $caHash }}
{{- $_ := set $result "namesHash" $namesHash }}
{{- $_ := set .Values "__agentwardenCerts" $result }}
{{- end }}
{{- end }}

{{/* The CA the API server and the sidecars trust, PEM; empty when cert-manager provides it and nothing overrides it. */}}
{{- define "agentwarden.caPem" -}}
{{- if .Values.webhook.caBundle }}
{{- .Values.webhook.caBundle }}
{{- else if not .Values.certManager.enabled }}
{{- include "agentwarden.certs" . }}
{{- .Values.__agentwardenCerts.caCert }}
{{- end }}
{{- end }}

{{/* Namespaces the webhooks never match (JSON list): kube-system, the release namespace, webhook.excludeNamespaces. */}}
{{- define "agentwarden.excludedNamespaces" -}}
{{- concat (list "kube-system" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq | toJson }}
{{- end }}

{{/* A label map as k=v,k2=v2 (sorted by key), the form of the controller's label flags. */}}
{{- define "agentwarden.labelPairs" -}}
{{- $pairs := list }}
{{- range $k, $v := . }}{{ $pairs = append $pairs (printf "%s=%s" $k $v) }}{{ end }}
{{- join "," $pairs }}
{{- end }}
