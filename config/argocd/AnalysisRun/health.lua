-- Argo CD health of a ramp.dev AnalysisRun, from its phase.
local hs = {}
if obj.status == nil or obj.status.phase == nil or obj.status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the AnalysisRun to be reconciled"
  return hs
end
local phase = obj.status.phase
local message = obj.status.message
if phase == "Pending" or phase == "Running" then
  hs.status = "Progressing"
  hs.message = message or "Analysis run is running"
elseif phase == "Successful" then
  hs.status = "Healthy"
  hs.message = message or "Analysis run completed successfully"
elseif phase == "Failed" or phase == "Error" then
  hs.status = "Degraded"
  hs.message = message or ("Analysis run " .. string.lower(phase))
elseif phase == "Inconclusive" then
  hs.status = "Unknown"
  hs.message = message or "Analysis run was inconclusive"
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. phase
end
return hs
