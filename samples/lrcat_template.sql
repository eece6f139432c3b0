-- What samples.catalog.write_catalog builds every catalog from, copied from a real Lightroom 5 catalog
-- (test_catalog_1.lrcat of alfanick/lrcat.rb, in the project's external test corpus) by tests/test_lrcat.py:
-- `python -m tests.test_lrcat` rewrites this file, and the tests check that it still matches that catalog.
-- Run as one script.
--
-- Copyright (c) 2013 Maxime Mouchet
--
-- MIT License
--
-- Permission is hereby granted, free of charge, to any person obtaining
-- a copy of this software and associated documentation files (the
-- "Software"), to deal in the Software without restriction, including
-- without limitation the rights to use, copy, modify, merge, publish,
-- distribute, sublicense, and/or sell copies of the Software, and to
-- permit persons to whom the Software is furnished to do so, subject to
-- the following conditions:
--
-- The above copyright notice and this permission notice shall be
-- included in all copies or substantial portions of the Software.
--
-- THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
-- EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
-- MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
-- NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
-- LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION
-- OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
-- WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.


-- 1. The schema: every table, then every index, then every trigger, each in the catalog's own order.

CREATE TABLE Adobe_variablesTable (
	    id_local INTEGER PRIMARY KEY,
	    id_global UNIQUE NOT NULL,
	    name,
	    type,
	    value NOT NULL DEFAULT ''
	);

CREATE TABLE Adobe_variables (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    name,
    value
);

CREATE TABLE AgFolderContent (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    containingFolder INTEGER NOT NULL DEFAULT 0,
    content,
    name,
    owningModule
);

CREATE TABLE Adobe_AdditionalMetadata (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    additionalInfoSet INTEGER NOT NULL DEFAULT 0,
    embeddedXmp INTEGER NOT NULL DEFAULT 0,
    externalXmpIsDirty INTEGER NOT NULL DEFAULT 0,
    image INTEGER,
    incrementalWhiteBalance INTEGER NOT NULL DEFAULT 0,
    internalXmpDigest,
    isRawFile INTEGER NOT NULL DEFAULT 0,
    lastSynchronizedHash,
    lastSynchronizedTimestamp NOT NULL DEFAULT -63113817600,
    metadataPresetID,
    metadataVersion,
    monochrome INTEGER NOT NULL DEFAULT 0,
    xmp NOT NULL DEFAULT ''
);

CREATE TABLE AgMetadataSearchIndex (
    id_local INTEGER PRIMARY KEY,
    exifSearchIndex NOT NULL DEFAULT '',
    image INTEGER,
    iptcSearchIndex NOT NULL DEFAULT '',
    otherSearchIndex NOT NULL DEFAULT '',
    searchIndex NOT NULL DEFAULT ''
);

CREATE TABLE Adobe_imageProperties (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    image INTEGER,
    propertiesString
);

CREATE TABLE Adobe_libraryImageDevelopSnapshot (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    digest,
    hasDevelopAdjustments,
    image INTEGER,
    locked,
    name,
    snapshotID,
    text
);

CREATE TABLE Adobe_libraryImageDevelopHistoryStep (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    dateCreated,
    digest,
    hasDevelopAdjustments,
    image INTEGER,
    name,
    relValueString,
    text,
    valueString
);

CREATE TABLE Adobe_imageProofSettings (
    id_local INTEGER PRIMARY KEY,
    colorProfile,
    image INTEGER,
    renderingIntent
);

CREATE TABLE AgLibraryKeywordImage (
    id_local INTEGER PRIMARY KEY,
    image INTEGER NOT NULL DEFAULT 0,
    tag INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE Adobe_images (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    aspectRatioCache NOT NULL DEFAULT -1,
    bitDepth NOT NULL DEFAULT 0,
    captureTime,
    colorChannels NOT NULL DEFAULT 0,
    colorLabels NOT NULL DEFAULT '',
    colorMode NOT NULL DEFAULT -1,
    copyCreationTime NOT NULL DEFAULT -63113817600,
    copyName,
    copyReason,
    developSettingsIDCache,
    fileFormat NOT NULL DEFAULT 'unset',
    fileHeight,
    fileWidth,
    hasMissingSidecars INTEGER,
    masterImage INTEGER,
    orientation,
    originalCaptureTime,
    originalRootEntity INTEGER,
    panningDistanceH,
    panningDistanceV,
    pick NOT NULL DEFAULT 0,
    positionInFolder NOT NULL DEFAULT 'z',
    propertiesCache,
    pyramidIDCache,
    rating,
    rootFile INTEGER NOT NULL DEFAULT 0,
    sidecarStatus,
    touchCount NOT NULL DEFAULT 0,
    touchTime NOT NULL DEFAULT 0
);

CREATE TABLE AgLibraryKeyword (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    dateCreated NOT NULL DEFAULT '',
    genealogy NOT NULL DEFAULT '',
    imageCountCache DEFAULT -1,
    includeOnExport INTEGER NOT NULL DEFAULT 1,
    includeParents INTEGER NOT NULL DEFAULT 1,
    includeSynonyms INTEGER NOT NULL DEFAULT 1,
    keywordType,
    lastApplied,
    lc_name,
    name,
    parent INTEGER
);

CREATE TABLE AgLibraryKeywordSynonym (
    id_local INTEGER PRIMARY KEY,
    keyword INTEGER NOT NULL DEFAULT 0,
    lc_name,
    name
);

CREATE TABLE AgLibraryCollection (
    id_local INTEGER PRIMARY KEY,
    creationId NOT NULL DEFAULT '',
    genealogy NOT NULL DEFAULT '',
    imageCount,
    name NOT NULL DEFAULT '',
    parent INTEGER,
    systemOnly NOT NULL DEFAULT ''
);

CREATE TABLE AgLibraryCollectionImage (
    id_local INTEGER PRIMARY KEY,
    collection INTEGER NOT NULL DEFAULT 0,
    image INTEGER NOT NULL DEFAULT 0,
    pick NOT NULL DEFAULT 0,
    positionInCollection
);

CREATE TABLE AgLibraryCollectionContent (
    id_local INTEGER PRIMARY KEY,
    collection INTEGER NOT NULL DEFAULT 0,
    content,
    owningModule
);

CREATE TABLE AgLibraryCollectionStack (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    collapsed INTEGER NOT NULL DEFAULT 0,
    collection INTEGER NOT NULL DEFAULT 0,
    text NOT NULL DEFAULT ''
);

CREATE TABLE AgLibraryCollectionStackImage (
    id_local INTEGER PRIMARY KEY,
    collapsed INTEGER NOT NULL DEFAULT 0,
    collection INTEGER NOT NULL DEFAULT 0,
    image INTEGER NOT NULL DEFAULT 0,
    position NOT NULL DEFAULT '',
    stack INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgOutputImageAsset (
    id_local INTEGER PRIMARY KEY,
    assetId NOT NULL DEFAULT '',
    collection INTEGER NOT NULL DEFAULT 0,
    image INTEGER NOT NULL DEFAULT 0,
    moduleId NOT NULL DEFAULT ''
);

CREATE TABLE AgLibraryFolderStack (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    collapsed INTEGER NOT NULL DEFAULT 0,
    text NOT NULL DEFAULT ''
);

CREATE TABLE AgLibraryFolderStackImage (
    id_local INTEGER PRIMARY KEY,
    collapsed INTEGER NOT NULL DEFAULT 0,
    image INTEGER NOT NULL DEFAULT 0,
    position NOT NULL DEFAULT '',
    stack INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgLibraryPublishedCollection (
    id_local INTEGER PRIMARY KEY,
    creationId NOT NULL DEFAULT '',
    genealogy NOT NULL DEFAULT '',
    imageCount,
    isDefaultCollection,
    name NOT NULL DEFAULT '',
    parent INTEGER,
    publishedUrl,
    remoteCollectionId,
    systemOnly NOT NULL DEFAULT ''
);

CREATE TABLE AgLibraryPublishedCollectionImage (
    id_local INTEGER PRIMARY KEY,
    collection INTEGER NOT NULL DEFAULT 0,
    image INTEGER NOT NULL DEFAULT 0,
    pick NOT NULL DEFAULT 0,
    positionInCollection
);

CREATE TABLE AgLibraryPublishedCollectionContent (
    id_local INTEGER PRIMARY KEY,
    collection INTEGER NOT NULL DEFAULT 0,
    content,
    owningModule
);

CREATE TABLE AgLibraryIPTC (
    id_local INTEGER PRIMARY KEY,
    caption,
    copyright,
    image INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgLibraryImport (
    id_local INTEGER PRIMARY KEY,
    imageCount,
    importDate NOT NULL DEFAULT '',
    name
);

CREATE TABLE AgLibraryImportImage (
    id_local INTEGER PRIMARY KEY,
    image INTEGER NOT NULL DEFAULT 0,
    import INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgSpecialSourceContent (
    id_local INTEGER PRIMARY KEY,
    content,
    owningModule,
    source NOT NULL DEFAULT ''
);

CREATE TABLE AgLibraryRootFolder (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    absolutePath UNIQUE NOT NULL DEFAULT '',
    name NOT NULL DEFAULT '',
    relativePathFromCatalog
);

CREATE TABLE AgLibraryFolder (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    pathFromRoot NOT NULL DEFAULT '',
    rootFolder INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgLibraryFile (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    baseName NOT NULL DEFAULT '',
    errorMessage,
    errorTime,
    extension NOT NULL DEFAULT '',
    externalModTime,
    folder INTEGER NOT NULL DEFAULT 0,
    idx_filename NOT NULL DEFAULT '',
    importHash,
    lc_idx_filename NOT NULL DEFAULT '',
    lc_idx_filenameExtension NOT NULL DEFAULT '',
    md5,
    modTime,
    originalFilename NOT NULL DEFAULT '',
    sidecarExtensions
);

CREATE TABLE AgLibraryKeywordPopularity (
    id_local INTEGER PRIMARY KEY,
    occurrences NOT NULL DEFAULT 0,
    popularity NOT NULL DEFAULT 0,
    tag UNIQUE NOT NULL DEFAULT ''
);

CREATE TABLE AgLibraryKeywordCooccurrence (
    id_local INTEGER PRIMARY KEY,
    tag1 NOT NULL DEFAULT '',
    tag2 NOT NULL DEFAULT '',
    value NOT NULL DEFAULT 0
);

CREATE TABLE AgPhotoComment (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    comment,
    commentRealname,
    commentUsername,
    dateCreated,
    photo INTEGER NOT NULL DEFAULT 0,
    remoteId NOT NULL DEFAULT '',
    remotePhoto INTEGER,
    url
);

CREATE TABLE AgPhotoProperty (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    dataType,
    internalValue,
    photo INTEGER NOT NULL DEFAULT 0,
    propertySpec INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgPhotoPropertyArrayElement (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    arrayIndex NOT NULL DEFAULT '',
    dataType,
    internalValue,
    photo INTEGER NOT NULL DEFAULT 0,
    propertySpec INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgSearchablePhotoProperty (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    dataType,
    internalValue,
    lc_idx_internalValue,
    photo INTEGER NOT NULL DEFAULT 0,
    propertySpec INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgSearchablePhotoPropertyArrayElement (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    arrayIndex NOT NULL DEFAULT '',
    dataType,
    internalValue,
    lc_idx_internalValue,
    photo INTEGER NOT NULL DEFAULT 0,
    propertySpec INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgPhotoPropertySpec (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    flattenedAttributes,
    key NOT NULL DEFAULT '',
    pluginVersion NOT NULL DEFAULT '',
    sourcePlugin NOT NULL DEFAULT '',
    userVisibleName
);

CREATE TABLE AgRemotePhoto (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    collection INTEGER NOT NULL DEFAULT 0,
    commentCount,
    developSettingsDigest,
    fileContentsHash,
    fileModTimestamp,
    metadataDigest,
    mostRecentCommentTime,
    orientation,
    photo INTEGER NOT NULL DEFAULT 0,
    photoNeedsUpdating DEFAULT 2,
    publishCount,
    remoteId,
    serviceAggregateRating,
    url
);

CREATE TABLE AgVideoInfo (
    id_local INTEGER PRIMARY KEY,
    duration,
    frame_rate,
    has_audio INTEGER NOT NULL DEFAULT 1,
    has_video INTEGER NOT NULL DEFAULT 1,
    image INTEGER NOT NULL DEFAULT 0,
    poster_frame NOT NULL DEFAULT '0000000000000000/0000000000000001',
    poster_frame_set_by_user INTEGER NOT NULL DEFAULT 0,
    trim_end NOT NULL DEFAULT '0000000000000000/0000000000000001',
    trim_start NOT NULL DEFAULT '0000000000000000/0000000000000001'
);

CREATE TABLE AgLibraryFace (
    id_local INTEGER PRIMARY KEY,
    bl_x,
    bl_y,
    br_x,
    br_y,
    cluster INTEGER,
    compatibleVersion,
    image INTEGER NOT NULL DEFAULT 0,
    imageOrientation NOT NULL DEFAULT '',
    orientation,
    origination NOT NULL DEFAULT 0,
    propertiesCache,
    regionType NOT NULL DEFAULT 0,
    tl_x NOT NULL DEFAULT '',
    tl_y NOT NULL DEFAULT '',
    touchCount NOT NULL DEFAULT 0,
    touchTime NOT NULL DEFAULT -63113817600,
    tr_x,
    tr_y,
    version
);

CREATE TABLE Adobe_faceProperties (
    id_local INTEGER PRIMARY KEY,
    face INTEGER,
    propertiesString
);

CREATE TABLE AgLibraryFaceData (
    id_local INTEGER PRIMARY KEY,
    data,
    face INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE AgLibraryFaceCluster (
    id_local INTEGER PRIMARY KEY,
    keyFace INTEGER
);

CREATE TABLE AgLibraryKeywordFace (
    id_local INTEGER PRIMARY KEY,
    face INTEGER NOT NULL DEFAULT 0,
    keyFace INTEGER,
    rankOrder,
    tag INTEGER NOT NULL DEFAULT 0,
    userPick INTEGER,
    userReject INTEGER
);

CREATE TABLE Adobe_libraryImageFaceProcessHistory (
    id_local INTEGER PRIMARY KEY,
    image INTEGER NOT NULL DEFAULT 0,
    lastFaceDetector,
    lastFaceRecognizer
);

CREATE TABLE AgSourceColorProfileConstants (
    id_local INTEGER PRIMARY KEY,
    image INTEGER NOT NULL DEFAULT 0,
    profileName NOT NULL DEFAULT 'Untagged'
);

CREATE TABLE AgDNGProxyInfo (
    id_local INTEGER PRIMARY KEY,
    fileUUID NOT NULL DEFAULT '',
    status NOT NULL DEFAULT 'U',
    statusDateTime NOT NULL DEFAULT 0
);

CREATE TABLE Adobe_imageDevelopBeforeSettings (
    id_local INTEGER PRIMARY KEY,
    beforeDigest,
    beforeHasDevelopAdjustments,
    beforePresetID,
    beforeText,
    developSettings INTEGER
);

CREATE TABLE Adobe_imageDevelopSettings (
    id_local INTEGER PRIMARY KEY,
    allowFastRender INTEGER,
    beforeSettingsIDCache,
    croppedHeight,
    croppedWidth,
    digest,
    fileHeight,
    fileWidth,
    grayscale INTEGER,
    hasDevelopAdjustments INTEGER,
    hasDevelopAdjustmentsEx,
    historySettingsID,
    image INTEGER,
    processVersion,
    settingsID,
    snapshotID,
    text,
    validatedForVersion,
    whiteBalance
);

CREATE TABLE Adobe_namedIdentityPlate (
    id_local INTEGER PRIMARY KEY,
    id_global UNIQUE NOT NULL,
    description,
    identityPlate,
    identityPlateHash,
    moduleFont,
    moduleSelectedTextColor,
    moduleTextColor
);

CREATE TABLE AgMRULists (
    id_local INTEGER PRIMARY KEY,
    listID NOT NULL DEFAULT '',
    timestamp NOT NULL DEFAULT 0,
    value NOT NULL DEFAULT ''
);

CREATE TABLE AgHarvestedExifMetadata (
    id_local INTEGER PRIMARY KEY,
    image INTEGER,
    aperture,
    cameraModelRef INTEGER,
    cameraSNRef INTEGER,
    dateDay,
    dateMonth,
    dateYear,
    flashFired INTEGER,
    focalLength,
    gpsLatitude,
    gpsLongitude,
    gpsSequence NOT NULL DEFAULT 0,
    hasGPS INTEGER,
    isoSpeedRating,
    lensRef INTEGER,
    shutterSpeed
);

CREATE TABLE AgHarvestedIptcMetadata (
    id_local INTEGER PRIMARY KEY,
    image INTEGER,
    cityRef INTEGER,
    copyrightState INTEGER,
    countryRef INTEGER,
    creatorRef INTEGER,
    isoCountryCodeRef INTEGER,
    jobIdentifierRef INTEGER,
    locationDataOrigination NOT NULL DEFAULT 'unset',
    locationGPSSequence NOT NULL DEFAULT -1,
    locationRef INTEGER,
    stateRef INTEGER
);

CREATE TABLE AgHarvestedDNGMetadata (
    id_local INTEGER PRIMARY KEY,
    image INTEGER,
    hasFastLoadData INTEGER,
    hasLossyCompression INTEGER,
    isDNG INTEGER,
    isReducedResolution INTEGER
);

CREATE TABLE AgInternedIptcCreator (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedIptcCountry (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedIptcLocation (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedIptcState (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedExifCameraModel (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedExifCameraSN (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedIptcJobIdentifier (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedIptcIsoCountryCode (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedIptcCity (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgInternedExifLens (
    id_local INTEGER PRIMARY KEY,
    searchIndex,
    value
);

CREATE TABLE AgHarvestedMetadataWorklist (
    id_local INTEGER PRIMARY KEY,
    taskID UNIQUE NOT NULL DEFAULT '',
    taskStatus NOT NULL DEFAULT 'pending',
    whenPosted NOT NULL DEFAULT ''
);

CREATE TABLE AgLibraryImageXMPUpdater (
    id_local INTEGER PRIMARY KEY,
    taskID UNIQUE NOT NULL DEFAULT '',
    taskStatus NOT NULL DEFAULT 'pending',
    whenPosted NOT NULL DEFAULT ''
);

CREATE TABLE AgPublishListenerWorklist (
    id_local INTEGER PRIMARY KEY,
    taskID UNIQUE NOT NULL DEFAULT '',
    taskStatus NOT NULL DEFAULT 'pending',
    whenPosted NOT NULL DEFAULT ''
);

CREATE TABLE AgTempImages ( image INTEGER PRIMARY KEY );

CREATE TABLE AgLibraryUpdatedImages ( image INTEGER PRIMARY KEY );

CREATE TABLE AgLastCatalogExport ( image INTEGER PRIMARY KEY );

CREATE TABLE AgLibraryCollectionStackData(
    stack INTEGER,
    collection INTEGER NOT NULL DEFAULT 0,
    stackCount INTEGER NOT NULL DEFAULT 0,
    stackParent INTEGER
);

CREATE TABLE AgLibraryFolderStackData (
    stack INTEGER,
    stackCount INTEGER NOT NULL DEFAULT 0,
    stackParent INTEGER
);

CREATE INDEX index_Adobe_variables_name ON Adobe_variables( name );

CREATE INDEX index_AgFolderContent_owningModule ON AgFolderContent( owningModule );

CREATE INDEX index_AgFolderContent_containingFolder ON AgFolderContent( containingFolder );

CREATE INDEX index_Adobe_AdditionalMetadata_imageAndStatus ON Adobe_AdditionalMetadata( image, externalXmpIsDirty );

CREATE INDEX index_AgMetadataSearchIndex_image ON AgMetadataSearchIndex( image );

CREATE INDEX index_Adobe_imageProperties_image ON Adobe_imageProperties( image );

CREATE INDEX index_Adobe_libraryImageDevelopSnapshot_image ON Adobe_libraryImageDevelopSnapshot( image );

CREATE INDEX index_Adobe_libraryImageDevelopHistoryStep_imageDateCreated ON Adobe_libraryImageDevelopHistoryStep( image, dateCreated );

CREATE INDEX index_Adobe_imageProofSettings_image ON Adobe_imageProofSettings( image );

CREATE INDEX index_AgLibraryKeywordImage_tag ON AgLibraryKeywordImage( tag );

CREATE INDEX index_AgLibraryKeywordImage_image ON AgLibraryKeywordImage( image );

CREATE INDEX index_Adobe_images_rootFile ON Adobe_images( rootFile );

CREATE INDEX index_Adobe_images_ratingAndCaptureTime ON Adobe_images( rating, captureTime );

CREATE INDEX index_Adobe_images_originalRootEntity ON Adobe_images( originalRootEntity );

CREATE INDEX index_Adobe_images_masterImage ON Adobe_images( masterImage );

CREATE INDEX index_Adobe_images_captureTime ON Adobe_images( captureTime );

CREATE INDEX index_AgLibraryKeyword_genealogy ON AgLibraryKeyword( genealogy );

CREATE INDEX index_AgLibraryKeyword_parentAndLcName ON AgLibraryKeyword( parent, lc_name );

CREATE INDEX index_AgLibraryKeywordSynonym_lc_name ON AgLibraryKeywordSynonym( lc_name );

CREATE INDEX index_AgLibraryKeywordSynonym_keyword ON AgLibraryKeywordSynonym( keyword );

CREATE INDEX index_AgLibraryCollection_parentAndName ON AgLibraryCollection( parent, name );

CREATE INDEX index_AgLibraryCollection_genealogy ON AgLibraryCollection( genealogy );

CREATE INDEX index_AgLibraryCollectionImage_collection ON AgLibraryCollectionImage( collection );

CREATE INDEX index_AgLibraryCollectionImage_imageCollection ON AgLibraryCollectionImage( image, collection );

CREATE INDEX index_AgLibraryCollectionContent_collection ON AgLibraryCollectionContent( collection );

CREATE INDEX index_AgLibraryCollectionContent_owningModule ON AgLibraryCollectionContent( owningModule );

CREATE INDEX index_AgLibraryCollectionStack_stacksForCollection ON AgLibraryCollectionStack( collection, collapsed );

CREATE INDEX index_AgLibraryCollectionStackImage_stack ON AgLibraryCollectionStackImage( stack );

CREATE INDEX index_AgLibraryCollectionStackImage_orderByCollapseThenStackThenPosition ON AgLibraryCollectionStackImage( collection, collapsed, stack, position, image );

CREATE INDEX index_AgLibraryCollectionStackImage_orderByStackThenPosition ON AgLibraryCollectionStackImage( collection, stack, position, image, collapsed );

CREATE INDEX index_AgLibraryCollectionStackImage_image ON AgLibraryCollectionStackImage( image );

CREATE INDEX index_AgLibraryCollectionStackImage_getStackFromImage ON AgLibraryCollectionStackImage( collection, image, stack, position, collapsed );

CREATE INDEX index_AgLibraryCollectionStackImage_orderByPositionThenStack ON AgLibraryCollectionStackImage( collection, position, stack, image, collapsed );

CREATE INDEX index_AgOutputImageAsset_image ON AgOutputImageAsset( image );

CREATE INDEX index_AgOutputImageAsset_findByCollectionGroupByImage ON AgOutputImageAsset( moduleId, collection, image, assetId );

CREATE INDEX index_AgOutputImageAsset_findByCollectionImage ON AgOutputImageAsset( collection, image, moduleId, assetId );

CREATE INDEX index_AgLibraryFolderStack_collapsed ON AgLibraryFolderStack( collapsed );

CREATE INDEX index_AgLibraryFolderStackImage_orderByPositionThenStack ON AgLibraryFolderStackImage( position, stack, image, collapsed );

CREATE INDEX index_AgLibraryFolderStackImage_orderByStackThenPosition ON AgLibraryFolderStackImage( stack, position, image, collapsed );

CREATE INDEX index_AgLibraryFolderStackImage_getStackFromImage ON AgLibraryFolderStackImage( image, stack, position, collapsed );

CREATE INDEX index_AgLibraryFolderStackImage_orderByCollapseThenStackThenPosition ON AgLibraryFolderStackImage( collapsed, stack, position, image );

CREATE INDEX index_AgLibraryPublishedCollection_parentAndName ON AgLibraryPublishedCollection( parent, name );

CREATE INDEX index_AgLibraryPublishedCollection_genealogy ON AgLibraryPublishedCollection( genealogy );

CREATE INDEX index_AgLibraryPublishedCollectionImage_imageCollection ON AgLibraryPublishedCollectionImage( image, collection );

CREATE INDEX index_AgLibraryPublishedCollectionImage_collection ON AgLibraryPublishedCollectionImage( collection );

CREATE INDEX index_AgLibraryPublishedCollectionContent_collection ON AgLibraryPublishedCollectionContent( collection );

CREATE INDEX index_AgLibraryPublishedCollectionContent_owningModule ON AgLibraryPublishedCollectionContent( owningModule );

CREATE INDEX index_AgLibraryIPTC_image ON AgLibraryIPTC( image );

CREATE INDEX index_AgLibraryImportImage_import ON AgLibraryImportImage( import );

CREATE UNIQUE INDEX index_AgLibraryImportImage_imageAndImport ON AgLibraryImportImage( image, import );

CREATE UNIQUE INDEX index_AgSpecialSourceContent_sourceModule ON AgSpecialSourceContent( source, owningModule );

CREATE INDEX index_AgSpecialSourceContent_owningModule ON AgSpecialSourceContent( owningModule );

CREATE UNIQUE INDEX index_AgLibraryFolder_rootFolderAndPath ON AgLibraryFolder( rootFolder, pathFromRoot );

CREATE UNIQUE INDEX index_AgLibraryFile_nameAndFolder ON AgLibraryFile( lc_idx_filename, folder );

CREATE INDEX index_AgLibraryFile_folder ON AgLibraryFile( folder );

CREATE INDEX index_AgLibraryFile_importHash ON AgLibraryFile( importHash );

CREATE INDEX index_AgLibraryKeywordPopularity_popularity ON AgLibraryKeywordPopularity( popularity );

CREATE INDEX index_AgLibraryKeywordCooccurrence_tag1Search ON AgLibraryKeywordCooccurrence( tag1, value, tag2 );

CREATE INDEX index_AgLibraryKeywordCooccurrence_valueIndex ON AgLibraryKeywordCooccurrence( value );

CREATE INDEX index_AgLibraryKeywordCooccurrence_tagsLookup ON AgLibraryKeywordCooccurrence( tag1, tag2 );

CREATE INDEX index_AgPhotoComment_remotePhoto ON AgPhotoComment( remotePhoto );

CREATE INDEX index_AgPhotoComment_photo ON AgPhotoComment( photo );

CREATE INDEX index_AgPhotoComment_remoteId ON AgPhotoComment( remoteId );

CREATE INDEX index_AgPhotoProperty_propertySpec ON AgPhotoProperty( propertySpec );

CREATE UNIQUE INDEX index_AgPhotoProperty_pluginKey ON AgPhotoProperty( photo, propertySpec );

CREATE INDEX index_AgPhotoPropertyArrayElement_propertySpec ON AgPhotoPropertyArrayElement( propertySpec );

CREATE UNIQUE INDEX index_AgPhotoPropertyArrayElement_pluginKey ON AgPhotoPropertyArrayElement( photo, propertySpec, arrayIndex );

CREATE INDEX index_AgSearchablePhotoProperty_propertyValue_lc ON AgSearchablePhotoProperty( propertySpec, lc_idx_internalValue );

CREATE INDEX index_AgSearchablePhotoProperty_lc_idx_internalValue ON AgSearchablePhotoProperty( lc_idx_internalValue );

CREATE UNIQUE INDEX index_AgSearchablePhotoProperty_pluginKey ON AgSearchablePhotoProperty( photo, propertySpec );

CREATE INDEX index_AgSearchablePhotoProperty_propertyValue ON AgSearchablePhotoProperty( propertySpec, internalValue );

CREATE INDEX index_AgSearchablePhotoPropertyArrayElement_propertyValue ON AgSearchablePhotoPropertyArrayElement( propertySpec, internalValue );

CREATE UNIQUE INDEX index_AgSearchablePhotoPropertyArrayElement_pluginKey ON AgSearchablePhotoPropertyArrayElement( photo, propertySpec, arrayIndex );

CREATE INDEX index_AgSearchablePhotoPropertyArrayElement_lc_idx_internalValue ON AgSearchablePhotoPropertyArrayElement( lc_idx_internalValue );

CREATE INDEX index_AgSearchablePhotoPropertyArrayElement_propertyValue_lc ON AgSearchablePhotoPropertyArrayElement( propertySpec, lc_idx_internalValue );

CREATE UNIQUE INDEX index_AgPhotoPropertySpec_pluginKey ON AgPhotoPropertySpec( sourcePlugin, key, pluginVersion );

CREATE INDEX index_AgRemotePhoto_collectionNeedsUpdating ON AgRemotePhoto( collection, photoNeedsUpdating );

CREATE UNIQUE INDEX index_AgRemotePhoto_collectionRemoteId ON AgRemotePhoto( collection, remoteId );

CREATE INDEX index_AgRemotePhoto_photo ON AgRemotePhoto( photo );

CREATE UNIQUE INDEX index_AgRemotePhoto_collectionPhoto ON AgRemotePhoto( collection, photo );

CREATE INDEX index_AgVideoInfo_image ON AgVideoInfo( image );

CREATE INDEX index_AgLibraryFace_cluster ON AgLibraryFace( cluster );

CREATE INDEX index_AgLibraryFace_image ON AgLibraryFace( image );

CREATE INDEX index_Adobe_faceProperties_face ON Adobe_faceProperties( face );

CREATE INDEX index_AgLibraryFaceData_face ON AgLibraryFaceData( face );

CREATE INDEX index_AgLibraryFaceCluster_keyFace ON AgLibraryFaceCluster( keyFace );

CREATE INDEX index_AgLibraryKeywordFace_face ON AgLibraryKeywordFace( face );

CREATE INDEX index_AgLibraryKeywordFace_tag ON AgLibraryKeywordFace( tag );

CREATE INDEX index_Adobe_libraryImageFaceProcessHistory_image ON Adobe_libraryImageFaceProcessHistory( image );

CREATE INDEX index_AgSourceColorProfileConstants_image ON AgSourceColorProfileConstants( image );

CREATE INDEX index_AgSourceColorProfileConstants_imageSourceColorProfileName ON AgSourceColorProfileConstants( profileName, image );

CREATE INDEX index_AgDNGProxyInfo_statusDateTimeForUUID ON AgDNGProxyInfo( status, statusDateTime, fileUUID );

CREATE INDEX index_AgDNGProxyInfo_uuidStatusDateTime ON AgDNGProxyInfo( fileUUID, status, statusDateTime );

CREATE INDEX index_Adobe_imageDevelopBeforeSettings_developSettings ON Adobe_imageDevelopBeforeSettings( developSettings );

CREATE INDEX index_Adobe_imageDevelopSettings_image ON Adobe_imageDevelopSettings( image );

CREATE INDEX index_Adobe_imageDevelopSettings_digest ON Adobe_imageDevelopSettings( digest );

CREATE INDEX index_Adobe_namedIdentityPlate_description ON Adobe_namedIdentityPlate( description );

CREATE INDEX index_Adobe_namedIdentityPlate_identityPlateHash ON Adobe_namedIdentityPlate( identityPlateHash );

CREATE INDEX index_AgMRULists_listID ON AgMRULists( listID );

CREATE INDEX index_AgHarvestedExifMetadata_cameraSNRef ON AgHarvestedExifMetadata( cameraSNRef );

CREATE INDEX index_AgHarvestedExifMetadata_lensRef ON AgHarvestedExifMetadata( lensRef );

CREATE INDEX index_AgHarvestedExifMetadata_focalLength ON AgHarvestedExifMetadata( focalLength );

CREATE INDEX index_AgHarvestedExifMetadata_flashFired ON AgHarvestedExifMetadata( flashFired );

CREATE INDEX index_AgHarvestedExifMetadata_shutterSpeed ON AgHarvestedExifMetadata( shutterSpeed );

CREATE INDEX index_AgHarvestedExifMetadata_cameraModelRef ON AgHarvestedExifMetadata( cameraModelRef );

CREATE INDEX index_AgHarvestedExifMetadata_isoSpeedRating ON AgHarvestedExifMetadata( isoSpeedRating );

CREATE INDEX index_AgHarvestedExifMetadata_image ON AgHarvestedExifMetadata( image );

CREATE INDEX index_AgHarvestedExifMetadata_date ON AgHarvestedExifMetadata( dateYear, dateMonth, dateDay, image );

CREATE INDEX index_AgHarvestedExifMetadata_gpsCluster ON AgHarvestedExifMetadata( hasGPS, gpsLatitude, gpsLongitude, image );

CREATE INDEX index_AgHarvestedExifMetadata_aperture ON AgHarvestedExifMetadata( aperture );

CREATE INDEX index_AgHarvestedIptcMetadata_isoCountryCodeRef ON AgHarvestedIptcMetadata( isoCountryCodeRef );

CREATE INDEX index_AgHarvestedIptcMetadata_stateRef ON AgHarvestedIptcMetadata( stateRef );

CREATE INDEX index_AgHarvestedIptcMetadata_copyrightState ON AgHarvestedIptcMetadata( copyrightState );

CREATE INDEX index_AgHarvestedIptcMetadata_image ON AgHarvestedIptcMetadata( image );

CREATE INDEX index_AgHarvestedIptcMetadata_jobIdentifierRef ON AgHarvestedIptcMetadata( jobIdentifierRef );

CREATE INDEX index_AgHarvestedIptcMetadata_creatorRef ON AgHarvestedIptcMetadata( creatorRef );

CREATE INDEX index_AgHarvestedIptcMetadata_cityRef ON AgHarvestedIptcMetadata( cityRef );

CREATE INDEX index_AgHarvestedIptcMetadata_countryRef ON AgHarvestedIptcMetadata( countryRef );

CREATE INDEX index_AgHarvestedIptcMetadata_locationRef ON AgHarvestedIptcMetadata( locationRef );

CREATE INDEX index_AgHarvestedDNGMetadata_hasLossyCompression ON AgHarvestedDNGMetadata( hasLossyCompression );

CREATE INDEX index_AgHarvestedDNGMetadata_hasFastLoadData ON AgHarvestedDNGMetadata( hasFastLoadData );

CREATE INDEX index_AgHarvestedDNGMetadata_isDNG ON AgHarvestedDNGMetadata( isDNG );

CREATE INDEX index_AgHarvestedDNGMetadata_isReducedResolution ON AgHarvestedDNGMetadata( isReducedResolution );

CREATE INDEX index_AgHarvestedDNGMetadata_byImage ON AgHarvestedDNGMetadata( image, isDNG, hasFastLoadData, hasLossyCompression, isReducedResolution );

CREATE INDEX index_AgInternedIptcCreator_value ON AgInternedIptcCreator( value );

CREATE INDEX index_AgInternedIptcCreator_searchIndex ON AgInternedIptcCreator( searchIndex );

CREATE INDEX index_AgInternedIptcCountry_value ON AgInternedIptcCountry( value );

CREATE INDEX index_AgInternedIptcCountry_searchIndex ON AgInternedIptcCountry( searchIndex );

CREATE INDEX index_AgInternedIptcLocation_value ON AgInternedIptcLocation( value );

CREATE INDEX index_AgInternedIptcLocation_searchIndex ON AgInternedIptcLocation( searchIndex );

CREATE INDEX index_AgInternedIptcState_searchIndex ON AgInternedIptcState( searchIndex );

CREATE INDEX index_AgInternedIptcState_value ON AgInternedIptcState( value );

CREATE INDEX index_AgInternedExifCameraModel_value ON AgInternedExifCameraModel( value );

CREATE INDEX index_AgInternedExifCameraModel_searchIndex ON AgInternedExifCameraModel( searchIndex );

CREATE INDEX index_AgInternedExifCameraSN_value ON AgInternedExifCameraSN( value );

CREATE INDEX index_AgInternedExifCameraSN_searchIndex ON AgInternedExifCameraSN( searchIndex );

CREATE INDEX index_AgInternedIptcJobIdentifier_value ON AgInternedIptcJobIdentifier( value );

CREATE INDEX index_AgInternedIptcJobIdentifier_searchIndex ON AgInternedIptcJobIdentifier( searchIndex );

CREATE INDEX index_AgInternedIptcIsoCountryCode_value ON AgInternedIptcIsoCountryCode( value );

CREATE INDEX index_AgInternedIptcIsoCountryCode_searchIndex ON AgInternedIptcIsoCountryCode( searchIndex );

CREATE INDEX index_AgInternedIptcCity_searchIndex ON AgInternedIptcCity( searchIndex );

CREATE INDEX index_AgInternedIptcCity_value ON AgInternedIptcCity( value );

CREATE INDEX index_AgInternedExifLens_searchIndex ON AgInternedExifLens( searchIndex );

CREATE INDEX index_AgInternedExifLens_value ON AgInternedExifLens( value );

CREATE INDEX index_AgHarvestedMetadataWorklist_taskIDCluster ON AgHarvestedMetadataWorklist( taskID, whenPosted, taskStatus );

CREATE INDEX index_AgHarvestedMetadataWorklist_statusCluster ON AgHarvestedMetadataWorklist( taskStatus, whenPosted, taskID );

CREATE INDEX index_AgLibraryImageXMPUpdater_statusCluster ON AgLibraryImageXMPUpdater( taskStatus, whenPosted, taskID );

CREATE INDEX index_AgLibraryImageXMPUpdater_taskIDCluster ON AgLibraryImageXMPUpdater( taskID, whenPosted, taskStatus );

CREATE INDEX index_AgPublishListenerWorklist_statusCluster ON AgPublishListenerWorklist( taskStatus, whenPosted, taskID );

CREATE INDEX index_AgPublishListenerWorklist_taskIDCluster ON AgPublishListenerWorklist( taskID, whenPosted, taskStatus );

CREATE INDEX index_AgLibraryCollectionStackData ON AgLibraryCollectionStackData( stack, collection, stackCount, stackParent );

CREATE INDEX index_AgLibraryFolderStackData ON AgLibraryFolderStackData( stack, stackCount, stackParent );

CREATE TRIGGER AgLibraryCollectionStackData_initStackData
	AFTER INSERT ON AgLibraryCollectionStackData
	FOR EACH ROW 
	BEGIN   
		UPDATE AgLibraryCollectionStackData 
			SET stackCount = (
				SELECT COUNT( * ) FROM AgLibraryCollectionStackImage
				WHERE stack = NEW.stack AND collection = NEW.collection )
			WHERE stack = NEW.stack AND collection = NEW.collection;
		UPDATE AgLibraryCollectionStackData 
			SET stackParent = (
				SELECT image FROM AgLibraryCollectionStackImage
				WHERE stack = NEW.stack AND collection = NEW.collection AND
				      position = 1 )
			WHERE stack = NEW.stack AND collection = NEW.collection;
	END;

CREATE TRIGGER AgLibraryFolderStackData_initStackData
	AFTER INSERT ON AgLibraryFolderStackData
	FOR EACH ROW 
	BEGIN   
		UPDATE AgLibraryFolderStackData 
			SET stackCount = (
				SELECT COUNT( * ) FROM AgLibraryFolderStackImage
				WHERE stack = NEW.stack )
			WHERE stack = NEW.stack;
		UPDATE AgLibraryFolderStackData 
			SET stackParent = (
				SELECT image FROM AgLibraryFolderStackImage
				WHERE stack = NEW.stack AND position = 1 )
			WHERE stack = NEW.stack;

	END;

CREATE TRIGGER AgLibraryCollectionStack_propagateCollapseState 
								   AFTER UPDATE OF collapsed ON AgLibraryCollectionStack
								   FOR EACH ROW 
								   BEGIN   	
										UPDATE AgLibraryCollectionStackImage 
										SET collapsed = NEW.collapsed
										WHERE AgLibraryCollectionStackImage.stack = NEW.id_local;
									END;

CREATE TRIGGER AgLibraryCollectionStackData_delete
								AFTER DELETE ON AgLibraryCollectionStack
								FOR EACH ROW 
								BEGIN   
									DELETE FROM AgLibraryCollectionStackData WHERE stack = OLD.id_local AND collection = OLD.collection;
								END;

CREATE TRIGGER AgLibraryCollectionStackData_init
								AFTER INSERT ON AgLibraryCollectionStack
								FOR EACH ROW 
								BEGIN   
									INSERT INTO AgLibraryCollectionStackData( stack, collection ) VALUES( NEW.id_local, NEW.collection );
								END;

CREATE TRIGGER AgLibraryCollectionStackImage_propagateStackParentOnAdd
								   AFTER INSERT ON AgLibraryCollectionStackImage
								   FOR EACH ROW WHEN NEW.position = 1
								   BEGIN   	
										UPDATE AgLibraryCollectionStackData
										SET stackParent = NEW.image
										WHERE stack = NEW.stack AND
										      collection = NEW.collection;
									END;

CREATE TRIGGER AgLibraryCollectionStackImage_propagateStackParentOnUpdate
								   AFTER UPDATE OF position ON AgLibraryCollectionStackImage
								   FOR EACH ROW WHEN NEW.position = 1
								   BEGIN   	
										UPDATE AgLibraryCollectionStackData
										SET stackParent = NEW.image
										WHERE stack = NEW.stack AND
										      collection = NEW.collection;
									END;

CREATE TRIGGER AgLibraryCollectionStackImage_updateCountOnDelete
								   AFTER DELETE ON AgLibraryCollectionStackImage
								   FOR EACH ROW 
								   BEGIN   	
										UPDATE AgLibraryCollectionStackData
										SET stackCount = MAX( 0, stackCount - 1 )
										WHERE stack = OLD.stack AND
										      collection = OLD.collection;
									END;

CREATE TRIGGER AgLibraryCollectionStackImage_updateCountOnAdd
								   AFTER INSERT ON AgLibraryCollectionStackImage
								   FOR EACH ROW 
								   BEGIN   	
										UPDATE AgLibraryCollectionStackData
										SET stackCount = stackCount + 1
										WHERE stack = NEW.stack AND
										      collection = NEW.collection;
									END;

CREATE TRIGGER AgLibraryFolderStack_propagateCollapseState 
								   AFTER UPDATE OF collapsed ON AgLibraryFolderStack
								   FOR EACH ROW 
								   BEGIN   	
										UPDATE AgLibraryFolderStackImage 
										SET collapsed = NEW.collapsed
										WHERE AgLibraryFolderStackImage.stack = NEW.id_local;
									END;

CREATE TRIGGER AgLibraryFolderStackData_delete
								AFTER DELETE ON AgLibraryFolderStack
								FOR EACH ROW 
								BEGIN   
									DELETE FROM AgLibraryFolderStackData WHERE stack = OLD.id_local;
								END;

CREATE TRIGGER AgLibraryFolderStackData_init
								AFTER INSERT ON AgLibraryFolderStack
								FOR EACH ROW 
								BEGIN   
									INSERT INTO AgLibraryFolderStackData( stack ) VALUES( NEW.id_local );
								END;

CREATE TRIGGER AgLibraryFolderStackImage_propagateStackParentOnAdd
								   AFTER INSERT ON AgLibraryFolderStackImage
								   FOR EACH ROW WHEN NEW.position = 1
								   BEGIN   	
										UPDATE AgLibraryFolderStackData
										SET stackParent = NEW.image
										WHERE stack = NEW.stack;
									END;

CREATE TRIGGER AgLibraryFolderStackImage_propagateStackParentOnUpdate
								   AFTER UPDATE OF position ON AgLibraryFolderStackImage
								   FOR EACH ROW WHEN NEW.position = 1
								   BEGIN   	
										UPDATE AgLibraryFolderStackData
										SET stackParent = NEW.image
										WHERE stack = NEW.stack;
									END;

CREATE TRIGGER AgLibraryFolderStackImage_updateStackCountOnDelete
								   AFTER DELETE ON AgLibraryFolderStackImage
								   FOR EACH ROW 
								   BEGIN   	
										UPDATE AgLibraryFolderStackData
										SET stackCount = MAX( 0, stackCount - 1 )
										WHERE stack = OLD.stack; 
									END;

CREATE TRIGGER AgLibraryFolderStackImage_updateCountOnAdd
								   AFTER INSERT ON AgLibraryFolderStackImage
								   FOR EACH ROW 
								   BEGIN   	
										UPDATE AgLibraryFolderStackData
										SET stackCount = stackCount + 1
										WHERE stack = NEW.stack;
									END;

CREATE TRIGGER trigger_AgDNGProxyInfo_fileDeleted
											AFTER DELETE ON AgLibraryFile
											FOR EACH ROW 
											BEGIN   
												UPDATE AgDNGProxyInfo
												SET status = 'D', statusDateTime = datetime( 'now' )
												WHERE fileUUID = OLD.id_global;
											END;

CREATE TRIGGER trigger_AgDNGProxyInfo_fileInserted
						   					 AFTER INSERT ON AgLibraryFile
											 FOR EACH ROW 
											 BEGIN   
												UPDATE AgDNGProxyInfo
												SET status = 'U', statusDateTime = datetime( 'now' )
												WHERE fileUUID = NEW.id_global;
											END;


-- 2. The catalog settings (write_catalog then moves Adobe_entityIDCounter past the ids it uses).

INSERT INTO Adobe_variablesTable VALUES (1, '37D68CD9-6AC0-4DCA-A7BF-51D6325C45FA', 'Adobe_entityIDCounter', NULL, 95.0);
INSERT INTO Adobe_variablesTable VALUES (2, '7BEF1EA6-11DE-4F14-95D7-5F3CC5D0B85E', 'Adobe_storeProviderID', NULL, '15484F94-CB1B-4B9A-B150-D8652ECCA148');
INSERT INTO Adobe_variablesTable VALUES (3, '118199DD-9451-49F0-BCB5-126FC175A8CF', 'Adobe_DBVersion', NULL, '0500006');
INSERT INTO Adobe_variablesTable VALUES (4, 'CD55C911-9635-4B9C-9B22-9965A7D45BAD', 'LR4ToneCurvesOkOrWereRepaired', 'boolean', 1);
INSERT INTO Adobe_variablesTable VALUES (5, '20C9CEB5-083F-4093-8DE7-DA5AB7248092', 'Adobe_lastScannedCatalogPath', NULL, '/Users/maxmouchet/Development/lrcat.rb/spec/test_catalog_1/test_catalog_1.lrcat');
INSERT INTO Adobe_variablesTable VALUES (6, '781984B2-B300-47B6-9B8C-F783C11B0C80', 'AgMetadata_autoWriteXmp', 'boolean', 0);
INSERT INTO Adobe_variablesTable VALUES (7, '9BD1FF31-2636-4C45-AF4E-B42E66703F54', 'AgPreviewBuilder_standardSize', NULL, 1440.0);
INSERT INTO Adobe_variablesTable VALUES (8, '2B6E9208-A6EB-4F7D-9D90-632481423B6B', 'AgPreviewBuilder_jpegQuality', NULL, 0.75);
INSERT INTO Adobe_variablesTable VALUES (9, '075E895F-781F-4EEA-BEF1-A95744375E99', 'AgPreviewCache_discardAfter', NULL, 'thirty_days');
INSERT INTO Adobe_variablesTable VALUES (10, '8A0A3F7F-323E-4399-9030-1D4094624F0D', 'Adobe_identityPlate', NULL, CAST('identityPlate = {
	contentType = "text-attributed",
	textRTF = "e1xydGYxXGFuc2lcYW5zaWNwZzEyNTJcY29jb2FydGYxMjY1Clxjb2NvYXNjcmVlbmZvbnRzMXtcZm9udHRibFxmMFxmbmlsXGZjaGFyc2V0MCBNeXJpYWRXZWJQcm87fQp7XGNvbG9ydGJsO1xyZWQyNTVcZ3JlZW4yNTVcYmx1ZTI1NTtccmVkMjA0XGdyZWVuMjA0XGJsdWUyMDQ7fQpccGFyZFx0eDU2MFx0eDExMjBcdHgxNjgwXHR4MjI0MFx0eDI4MDBcdHgzMzYwXHR4MzkyMFx0eDQ0ODBcdHg1MDQwXHR4NTYwMFx0eDYxNjBcdHg2NzIwXHBhcmRpcm5hdHVyYWwKClxmMFxmczQ4IFxjZjIgTWF4IE1vdWNoZXR9",
	version = 1,
}
' AS BLOB));
INSERT INTO Adobe_variablesTable VALUES (11, '13173F7A-C94A-4EB6-B421-8EDF85FDF2D1', 'Adobe_identityPlateModuleFont', NULL, 'fontTable = {
	name = "MyriadWebPro",
	size = 22,
}
');
INSERT INTO Adobe_variablesTable VALUES (12, '6CBF5388-2F92-4E3A-88B8-C1F766BB899F', 'libraryDefaultSmartCollectionsHaveBeenAdded', NULL, 1.0);
INSERT INTO Adobe_variablesTable VALUES (13, '18194BE3-4218-4A77-ACAA-5D4D7BCEAEFF', 'AgMetadata_enableMRULists', 'boolean', 1);
INSERT INTO Adobe_variablesTable VALUES (14, '99028233-E5A9-4988-80FA-05AD92E1026E', 'AgSdkUpgradeFunctionSucceeded_com.adobe.lightroom.export.flickr', 'boolean', 1);
INSERT INTO Adobe_variablesTable VALUES (15, 'F7CCFB39-C590-485B-BE17-7540098CC253', 'AgSdkPropertySchema_com.adobe.lightroom.export.flickr', NULL, 2.0);
INSERT INTO Adobe_variablesTable VALUES (16, '174BF89B-15DA-4C16-A66D-97D3B4BDAA62', 'AgSdkUpgradeFunctionSucceededForSchemaVersion_com.adobe.lightroom.export.flickr', NULL, 2.0);
INSERT INTO Adobe_variablesTable VALUES (17, '5AF18A65-CC51-42FC-90FE-69AB3A3FCD22', 'AgMRUPopupList_AgImport_lastImportPath', NULL, 's = {
	"/Users/maxmouchet/Dropbox/Photos/Exports Random/fb_vaasa",
	"/Users/maxmouchet/Pictures/2013",
}
');
INSERT INTO Adobe_variablesTable VALUES (18, 'E69B825E-FF4E-43DB-9E89-03CA72C130B2', 'AgImportDialog_suppressImportDialog', 'boolean', 0);
INSERT INTO Adobe_variablesTable VALUES (19, '2C1FBBBB-CFF0-4C72-BC20-BEC851A01871', 'AgImportDialog_importServiceProvider', NULL, 'com.adobe.ag.import.file');
INSERT INTO Adobe_variablesTable VALUES (20, 'E68072E0-F74A-46DE-BE54-773D1F9DC4BC', 'AgImportDialog_importServiceProviderTitle', NULL, 'Files on Disk');
INSERT INTO Adobe_variablesTable VALUES (21, 'E13C1166-EEA1-44F6-8047-3AAAE621DE25', 'AgImportDialog_importBehavior', NULL, 'refInPlace');
INSERT INTO Adobe_variablesTable VALUES (22, '238D75E8-EF90-45D6-AD18-649DBEE217E4', 'AgImportDialog_autoSegmentMethod', NULL, 'autoSegment_None');
INSERT INTO Adobe_variablesTable VALUES (23, 'C10515E7-0841-4366-8D8F-9B1D1F876F37', 'AgImportDialog_shootNameFormat', NULL, '%Y/%Y-%m-%d');
INSERT INTO Adobe_variablesTable VALUES (24, 'CF7BE468-CE82-456F-8623-5CAD577F2E40', 'AgImportDialog_ignoreSuspectedDuplicates', 'boolean', 1);
INSERT INTO Adobe_variablesTable VALUES (25, '1BBEA6D6-0DBC-45A6-BCED-3F8C96F00683', 'AgImportDialog_previewBuildQuality', NULL, 'prev');
INSERT INTO Adobe_variablesTable VALUES (26, 'E80BF9FE-90BB-41D4-9294-66DE97EEA2BF', 'AgImportDialog_previewJPEGQuality', NULL, 0.75);
INSERT INTO Adobe_variablesTable VALUES (27, '1C233481-9526-4B5E-9E4F-868B9946116E', 'AgImportDialog_standardPreviewSize', NULL, 1440.0);
INSERT INTO Adobe_variablesTable VALUES (28, '4DECF664-0F00-4F02-9CC5-E099A03450EA', 'AgImportDialog_generateDNGProxies', 'boolean', 0);
INSERT INTO Adobe_variablesTable VALUES (29, '8570903C-49D5-4056-889A-E1B2566FA3EE', 'AgImportDialog_generateDNGProxiesLater', 'boolean', 0);
INSERT INTO Adobe_variablesTable VALUES (30, 'D7571FAB-7327-4BB5-AD15-199483EEE817', 'AgImportDialog_importNamingTokens', NULL, '{{date_YYYYMMDD}}-{{image_name}}');
INSERT INTO Adobe_variablesTable VALUES (31, '926E3172-26B8-4405-ABAE-FB069E34671A', 'AgImportDialog_renamingTokensOn', 'boolean', 0);
INSERT INTO Adobe_variablesTable VALUES (32, '2F104A20-0292-427A-A1AB-4C9E391CD5FE', 'AgImportDialog_initialSequenceNumber', NULL, 1.0);
INSERT INTO Adobe_variablesTable VALUES (33, 'E75F4ED6-58F5-4125-B87C-C2BF0D3B7225', 'AgImportDialog_extensionCase', NULL, 'unchanged');
INSERT INTO Adobe_variablesTable VALUES (34, '3E8ED05C-55FE-42CA-A70D-18FB6F943B78', 'AgImportDialog_metadataPresetID', NULL, 'EBEA57D7-6C62-4AD9-A265-8F81CB9CAD2A');
INSERT INTO Adobe_variablesTable VALUES (35, '2749C79A-891E-415F-866C-5E6EB5DF5CA6', 'AgImportDialog_crSettingsID', NULL, '<none>');
INSERT INTO Adobe_variablesTable VALUES (36, '4DEC4BF6-968D-481A-AFCB-22D7EF169082', 'AgImportDialog_doCopyToBackupFolder', 'boolean', 0);
INSERT INTO Adobe_variablesTable VALUES (37, '064BD8AA-F962-4474-BA71-7819BA2EAEC6', 'AgImportDialog_backupDownloadFolder', NULL, '/Users/maxmouchet/Pictures/Lightroom/Sauvegardes de téléchargement');
INSERT INTO Adobe_variablesTable VALUES (38, '12B6A080-66C4-4A5C-BA20-678A2A8DA016', 'lastImportID', NULL, 62.0);
INSERT INTO Adobe_variablesTable VALUES (39, '23E432FC-62B8-49EF-B899-587841F4D615', 'AgLibraryKeyword_rootTagID', NULL, 20.0);
INSERT INTO Adobe_variablesTable VALUES (40, 'A5AE276E-2D12-4683-8B50-92BC700212F4', 'AgLibraryImageXMPUpdater_WorklistPending', 'boolean', 1);
INSERT INTO Adobe_variablesTable VALUES (41, 'E40DA6D7-2A62-459D-A0CF-DB8D90332514', 'AgLibrary_lastUsedFilter', NULL, 'filter = {
	columnBrowserActive = false,
	columnBrowserDesc = {
		{
			criteria = "dateHierarchy",
		},
		{
			criteria = "camera",
		},
		{
			criteria = "lens",
		},
		{
			criteria = "label",
		},
	},
	customLabel = false,
	filtersActive = false,
	gpsLocation = false,
	gpsLocationNELatitude = "<nil>",
	gpsLocationNELongitude = "<nil>",
	gpsLocationSWLatitude = "<nil>",
	gpsLocationSWLongitude = "<nil>",
	label1 = false,
	label2 = false,
	label3 = false,
	label4 = false,
	label5 = false,
	labelOp = "any",
	minRating = 0,
	noLabel = false,
	pick = "<nil>",
	ratingOp = ">=",
	searchOp = "all",
	searchString = "",
	searchStringActive = false,
	searchTarget = "all",
	usage = "<nil>",
	whichCopies = "<nil>",
}
');
INSERT INTO Adobe_variablesTable VALUES (42, '5EBFC0E2-8722-4127-9313-CCE7E78A9DAB', 'AgContentPanelDelegate_expandedIds_AgLibraryCollection', NULL, '');
INSERT INTO Adobe_variablesTable VALUES (43, '3D7FBA99-4438-495D-937D-A57EF8427B5B', 'AgLibrary_volumeInfo', NULL, 'volumeInfo = {
	["/"] = {
		expanded = true,
		freeSpace = 14103597056,
		name = "Macintosh HD",
		offline = false,
		size = 120473067520,
	},
}
');
INSERT INTO Adobe_variablesTable VALUES (44, 'C6FF32BE-13EF-4FCC-9462-6D08AAA88280', 'Adobe_libraryHasSelection', 'boolean', 0);
INSERT INTO Adobe_variablesTable VALUES (45, '103941E9-766E-4191-8D50-96AE650F5ED4', 'Adobe_selectedImages', NULL, '');
INSERT INTO Adobe_variablesTable VALUES (46, '35FA570A-0789-4D88-B23F-EFA86524C3C5', 'AgLibrary_activeSources3', NULL, 's = {
	{
		type = "special",
		value = "entire_library",
	},
}
');
INSERT INTO Adobe_variablesTable VALUES (47, '50706756-0690-467A-A159-6FAE6B612B70', 'AgLibrary_expandedKeywordTags', NULL, '');
INSERT INTO Adobe_variablesTable VALUES (48, '9C310FA3-D460-458B-B760-A92BE71A6D3D', 'AgLibrary_expandedFolders', NULL, '');


-- 3. Develop settings templates: the develop text of the catalog's first raw photo (RAW) and of its
-- first JPEG (JPG); write_catalog sets the crop in a copy of one of them. A TEMP table: not part of the
-- catalog.

CREATE TEMP TABLE develop_template (fileFormat TEXT PRIMARY KEY, text TEXT NOT NULL);

-- Adobe_imageDevelopSettings.text of image 21
INSERT INTO develop_template VALUES ('RAW', 's = { AutoGrayscaleMix = true,
AutoLateralCA = 0,
AutoWhiteVersion = 134348800,
Blacks2012 = 0,
Brightness = 50,
CameraProfile = "Adobe Standard",
CameraProfileDigest = "AC58BA900C3A001F052B43DA5615508D",
Clarity2012 = 0,
ColorNoiseReduction = 25,
Contrast = 25,
Contrast2012 = 0,
ConvertToGrayscale = false,
DefringeGreenAmount = 0,
DefringeGreenHueHi = 60,
DefringeGreenHueLo = 40,
DefringePurpleAmount = 0,
DefringePurpleHueHi = 70,
DefringePurpleHueLo = 30,
Exposure = 0,
Exposure2012 = 0,
GrainSize = 25,
Highlights2012 = 0,
LensManualDistortionAmount = 0,
LensProfileEnable = 0,
LensProfileSetup = "LensDefaults",
LuminanceNoiseReductionContrast = 0,
PerspectiveHorizontal = 0,
PerspectiveRotate = 0,
PerspectiveScale = 100,
PerspectiveVertical = 0,
ProcessVersion = "6.7",
RedEyeInfo = {  },
RetouchInfo = {  },
Shadows = 5,
Shadows2012 = 0,
SharpenDetail = 25,
SharpenEdgeMasking = 0,
SharpenRadius = 1,
Sharpness = 25,
Temperature = 2900,
Tint = 4,
ToneCurve = { 0,
0,
32,
22,
64,
56,
128,
128,
192,
196,
255,
255 },
ToneCurveBlue = { 0,
0,
255,
255 },
ToneCurveGreen = { 0,
0,
255,
255 },
ToneCurveName = "Medium Contrast",
ToneCurveName2012 = "Linear",
ToneCurvePV2012 = { 0,
0,
255,
255 },
ToneCurvePV2012Blue = { 0,
0,
255,
255 },
ToneCurvePV2012Green = { 0,
0,
255,
255 },
ToneCurvePV2012Red = { 0,
0,
255,
255 },
ToneCurveRed = { 0,
0,
255,
255 },
UprightCenterMode = 0,
UprightCenterNormX = 0.5,
UprightCenterNormY = 0.5,
UprightFocalLength35mm = 35,
UprightFocalMode = 0,
UprightPreview = false,
UprightTransformCount = 0,
UprightVersion = 134217728,
Version = "8.2",
WhiteBalance = "As Shot",
Whites2012 = 0 }
');

-- Adobe_imageDevelopSettings.text of image 63
INSERT INTO develop_template VALUES ('JPG', 's = { AutoGrayscaleMix = true,
AutoLateralCA = 0,
AutoWhiteVersion = 134348800,
Blacks2012 = 0,
Brightness = 0,
CameraProfile = "Embedded",
CameraProfileDigest = "D6AF5AEA62557FCE88BC099788BBD3CC",
Clarity2012 = 0,
Contrast = 0,
Contrast2012 = 0,
ConvertToGrayscale = false,
DefringeGreenAmount = 0,
DefringeGreenHueHi = 60,
DefringeGreenHueLo = 40,
DefringePurpleAmount = 0,
DefringePurpleHueHi = 70,
DefringePurpleHueLo = 30,
Exposure = 0,
Exposure2012 = 0,
GrainSize = 25,
Highlights2012 = 0,
IncrementalTemperature = 0,
IncrementalTint = 0,
LensManualDistortionAmount = 0,
LensProfileEnable = 0,
LensProfileSetup = "LensDefaults",
LuminanceNoiseReductionContrast = 0,
PerspectiveHorizontal = 0,
PerspectiveRotate = 0,
PerspectiveScale = 100,
PerspectiveVertical = 0,
ProcessVersion = "6.7",
RedEyeInfo = {  },
RetouchInfo = {  },
Shadows = 0,
Shadows2012 = 0,
SharpenDetail = 25,
SharpenEdgeMasking = 0,
SharpenRadius = 1,
ToneCurve = { 0,
0,
255,
255 },
ToneCurveBlue = { 0,
0,
255,
255 },
ToneCurveGreen = { 0,
0,
255,
255 },
ToneCurveName = "Linear",
ToneCurveName2012 = "Linear",
ToneCurvePV2012 = { 0,
0,
255,
255 },
ToneCurvePV2012Blue = { 0,
0,
255,
255 },
ToneCurvePV2012Green = { 0,
0,
255,
255 },
ToneCurvePV2012Red = { 0,
0,
255,
255 },
ToneCurveRed = { 0,
0,
255,
255 },
UprightCenterMode = 0,
UprightCenterNormX = 0.5,
UprightCenterNormY = 0.5,
UprightFocalLength35mm = 35,
UprightFocalMode = 0,
UprightPreview = false,
UprightTransformCount = 0,
UprightVersion = 134217728,
Version = "8.2",
WhiteBalance = "As Shot",
Whites2012 = 0 }
');
