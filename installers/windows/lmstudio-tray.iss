; Inno Setup script: LM Studio Tray for Windows, a per-user install (no admin rights).
;
;   1. build the one-dir bundle on Windows:
;        python -m PyInstaller --noconfirm installers\pyinstaller\lmstudio-tray.spec
;      (it lands in dist\lmstudio-tray\)
;   2. iscc /DAppVersion=0.1.0 installers\windows\lmstudio-tray.iss
;      (the installer lands in dist\installer\)
;
; The optional task "Start LM Studio Tray when I log in" writes the same value the app's
; own Settings → Start at login writes (HKCU\...\Run\LMStudioTray, with the quoted path),
; so the app shows the setting as on, and switching it off there removes this value.
; The Start-menu shortcut carries the app's AppUserModelID (tray.APP_ID), so Windows
; groups its notifications under "LM Studio Tray" with its icon.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "LM Studio Tray"
#define AppExe "lmstudio-tray.exe"
#define AppUserModelID "ai.lmstudio-tray.LMStudioTray"

[Setup]
AppId={{6C1B0F7E-2B7A-4F1D-9D8E-5A3C2E4B7D10}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=LM Studio Tray contributors
DefaultDirName={localappdata}\Programs\LM Studio Tray
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
OutputDir=..\..\dist\installer
OutputBaseFilename=LM-Studio-Tray-{#AppVersion}-windows-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
UninstallDisplayIcon={app}\{#AppExe}
; A running tray holds its files open: ask it to close (Restart Manager) before replacing.
CloseApplications=yes

[Tasks]
Name: "autostart"; Description: "Start {#AppName} when I log in"; GroupDescription: "Start-up:"; Flags: unchecked

[Files]
Source: "..\..\dist\lmstudio-tray\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; AppUserModelID: "{#AppUserModelID}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"

[Registry]
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "LMStudioTray"; ValueData: """{app}\{#AppExe}"""; Flags: uninsdeletevalue; Tasks: autostart

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Leave no start-at-login value behind, whichever way it was switched on.
Filename: "{sys}\reg.exe"; Parameters: "delete HKCU\Software\Microsoft\Windows\CurrentVersion\Run /v LMStudioTray /f"; Flags: runhidden; RunOnceId: "RemoveAutostart"
