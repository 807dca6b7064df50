{{/* Chart name, overridable. */}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the pods; never change them on upgrade. */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "portcullis.labels" -}}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: authorization
app.kubernetes.io/part-of: portcullis
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository@digest when a digest is set, otherwise repository:tag (default: appVersion). */}}
{{- define "portcullis.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Standalone mode needs manifests from somewhere; the client-address values exclude each other as
the flags they become do (a pod given both would never start). */}}
{{- define "portcullis.validate" -}}
{{- $c := .Values.config -}}
{{- if and (gt (int $c.xffTrustedHops) 0) $c.xffTrustedCidrs -}}
{{- fail "config.xffTrustedHops and config.xffTrustedCidrs exclude each other (as Envoy Gateway's numTrustedHops and trustedCIDRs): set one" -}}
{{- end -}}
{{- if and $c.xffPeerNotAppended (eq (int $c.xffTrustedHops) 0) (not $c.xffTrustedCidrs) -}}
{{- fail "config.xffPeerNotAppended needs config.xffTrustedHops or config.xffTrustedCidrs (Envoy Gateway's disableXForwardedForAppend is a setting of xForwardedFor)" -}}
{{- end -}}
{{- if and $c.clientIpHeader (or (gt (int $c.xffTrustedHops) 0) $c.xffTrustedCidrs) -}}
{{- fail "config.clientIpHeader excludes config.xffTrustedHops and config.xffTrustedCidrs (as Envoy Gateway's customHeader excludes xForwardedFor)" -}}
{{- end -}}
{{- if and (eq .Values.mode "standalone") (not (or .Values.standalone.manifests .Values.standalone.existingConfigMap .Values.standalone.existingSecret)) -}}
{{- fail "mode: standalone needs standalone.manifests, standalone.existingConfigMap or standalone.existingSecret" -}}
{{- end -}}
{{- if and .Values.geoip.databases (not .Values.geoip.volume) -}}
{{- fail "geoip.databases needs geoip.volume, the volume that holds them" -}}
{{- end -}}
{{- end -}}

{{/* The GeoIP database files as PORTCULLIS_GEOIP_DATABASE lists them: comma-separated paths under the mount. */}}
{{- define "portcullis.geoipPaths" -}}
{{- $paths := list -}}
{{- range . -}}
{{- $paths = append $paths (printf "/etc/portcullis/geoip/%s" .) -}}
{{- end -}}
{{- join "," $paths -}}
{{- end -}}

{{/* What Portcullis reads and writes in a namespace it watches: everything a policy can refer to, SecurityPolicy status and Events. */}}
{{- define "portcullis.namespacedRules" -}}
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways, httproutes, grpcroutes, referencegrants, listenersets, backendtlspolicies]
  verbs: [get, list, watch]
- apiGroups: [gateway.envoyproxy.io]
  resources: [securitypolicies, backends, clienttrafficpolicies]
  verbs: [get, list, watch]
- apiGroups: [gateway.envoyproxy.io]
  resources: [securitypolicies/status]
  verbs: [get, update, patch]
- apiGroups: [""]
  resources: [secrets, configmaps, services]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* The cluster-scoped kinds Portcullis reads: GatewayClasses, and Namespaces for their labels. */}}
{{- define "portcullis.clusterScopedRules" -}}
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
{{- end }}
